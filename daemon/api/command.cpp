#include "api/command.hpp"

namespace lrsched::api {

std::string_view to_string(CommandType t) noexcept {
    switch (t) {
        case CommandType::PutFile:
            return "PutFile";
        case CommandType::RunScript:
            return "RunScript";
        case CommandType::GetFile:
            return "GetFile";
    }
    return "?";
}

}  // namespace lrsched::api
