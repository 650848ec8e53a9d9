// The live response commands as the API takes them (mde-api.md): PutFile,
// RunScript and GetFile with their one parameter. Shared by the job files
// (jobs/job.hpp validates them) and the request bodies (api/mde.hpp builds
// them), so this folder needs nothing from jobs/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lrsched::api {

enum class CommandType { PutFile, RunScript, GetFile };

std::string_view to_string(CommandType t) noexcept;

struct Command {
    CommandType type = CommandType::RunScript;
    std::string param;                // FileName, ScriptName or Path, exactly as written
    std::optional<std::string> args;  // RunScript only
};

}  // namespace lrsched::api
