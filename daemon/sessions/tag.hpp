// The correlation tag that ties an action on the server to one submit call
// of one session (SPEC §4, exactly once): written into the action's Comment,
// found again in any listing. Pure string work; the store hands out the
// numbers (Store::correlation_tag), the dispatcher looks for them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched::sessions {

// "lrsched:<install>:<session>:<submission>": unique per submit call, so a
// retry after a busy answer or a proved-absent action is a new tag, and an
// action found carrying a tag belongs to exactly one of our submit calls.
std::string correlation_tag(std::string_view install_id,
                            std::int64_t session_id,
                            std::int64_t submission);

struct ParsedTag {
    std::string install_id;
    std::int64_t session_id = 0;
    std::int64_t submission = 0;
};
// Finds our tag in an action's Comment (anywhere in it); nullopt if absent.
std::optional<ParsedTag> find_tag(std::string_view comment);

// The Comment sent: the job's comment, then the tag in brackets.
std::string action_comment(std::string_view job_comment, std::string_view tag);

}  // namespace lrsched::sessions
