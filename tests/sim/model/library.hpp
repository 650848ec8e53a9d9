// The tenant's live response library (scripts and files PutFile/RunScript
// name) and the multipart/form-data parser its upload needs. Tens of files;
// an upload body is capped at 21 MB by the API before it gets here.
#pragma once

#include "sim/model/sim_util.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::sim {

struct LibraryFile {
    std::string file_name;
    std::string sha256;
    std::string description;
    std::string created_by;
    bool has_parameters = false;
    std::string parameters_description;
    Ticks creation_time = 0;
    Ticks last_updated_time = 0;
};

nlohmann::json library_json(const LibraryFile& f);

// Letters, digits, '-', '_', '.', at most 255 characters (the console's rule).
bool is_library_name(std::string_view name) noexcept;

class Library {
  public:
    // Names are case-sensitive, as every other body parameter.
    const LibraryFile* find(std::string_view name) const;
    void put(LibraryFile f);  // adds or replaces
    bool remove(std::string_view name);
    const std::vector<LibraryFile>& all() const noexcept { return files_; }

  private:
    std::vector<LibraryFile> files_;
};

struct FormPart {
    std::string name;      // from Content-Disposition
    std::string filename;  // empty when absent
    std::string body;
};

// Parses a multipart/form-data body; nullopt with `error` set when malformed.
std::optional<std::vector<FormPart>> parse_multipart(std::string_view content_type,
                                                     std::string_view body,
                                                     std::string& error);

}  // namespace lrsched::sim
