#include "sessions/tag.hpp"

#include <algorithm>

namespace lrsched::sessions {
namespace {

constexpr std::string_view kTagPrefix = "lrsched:";

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() <= 18 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string correlation_tag(std::string_view install_id,
                            std::int64_t session_id,
                            std::int64_t submission) {
    return std::string(kTagPrefix) + std::string(install_id) + ":" + std::to_string(session_id) +
           ":" + std::to_string(submission);
}

std::optional<ParsedTag> find_tag(std::string_view comment) {
    for (std::size_t pos = comment.find(kTagPrefix); pos != std::string_view::npos;
         pos = comment.find(kTagPrefix, pos + 1)) {
        std::string_view rest = comment.substr(pos + kTagPrefix.size());
        const auto c1 = rest.find(':');
        if (c1 == std::string_view::npos) continue;
        const auto c2 = rest.find(':', c1 + 1);
        if (c2 == std::string_view::npos) continue;
        std::size_t end = c2 + 1;
        while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9')
            ++end;
        const auto install = rest.substr(0, c1);
        const auto session = rest.substr(c1 + 1, c2 - c1 - 1);
        const auto submission = rest.substr(c2 + 1, end - c2 - 1);
        const bool hex =
            !install.empty() && std::all_of(install.begin(), install.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
        if (!hex || !all_digits(session) || !all_digits(submission)) continue;
        return ParsedTag{std::string(install), std::stoll(std::string(session)),
                         std::stoll(std::string(submission))};
    }
    return std::nullopt;
}

std::string action_comment(std::string_view job_comment, std::string_view tag) {
    std::string out(job_comment);
    if (!out.empty()) out += ' ';
    out += '[';
    out += tag;
    out += ']';
    return out;
}

}  // namespace lrsched::sessions
