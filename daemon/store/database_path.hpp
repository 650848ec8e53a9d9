// Where lrsched keeps its SQLite database: one convention shared by the
// daemon, which writes it, and the commands that read it (`status`,
// `sessions`). Looked up once per command or start.
#pragma once

#include <filesystem>
#include <string>

namespace lrsched::store {

inline constexpr const char* kDatabaseFile = "lrsched.db";

// `<state_dir>/lrsched.db`.
inline std::string database_path(const std::string& state_dir) {
    return (std::filesystem::path(state_dir) / kDatabaseFile).string();
}

}  // namespace lrsched::store
