// g++ 12 at -O2 reports a false -Wmaybe-uninitialized inside libstdc++'s
// <regex> (std::function in _State, GCC bug 105562); it is not our code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "sim/model/tag_matcher.hpp"

#include <algorithm>
#include <regex>
#include <string_view>

namespace lrsched::sim {

namespace {
constexpr std::size_t kMaxWord = 256;
}

struct TagMatcher::Impl {
    std::optional<std::regex> re;
};

TagMatcher::TagMatcher(const std::string& pattern) : impl_(std::make_unique<Impl>()) {
    try {
        impl_->re.emplace(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
        impl_->re.reset();
    }
}

TagMatcher::~TagMatcher() = default;
TagMatcher::TagMatcher(TagMatcher&&) noexcept = default;
TagMatcher& TagMatcher::operator=(TagMatcher&&) noexcept = default;

std::string TagMatcher::find(const std::optional<std::string>& comment) const {
    if (!comment || !impl_->re) return {};
    std::string_view rest = *comment;
    while (!rest.empty()) {
        const auto start = rest.find_first_not_of(" \t\r\n");
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        const auto end = std::min(rest.find_first_of(" \t\r\n"), rest.size());
        const std::string word(rest.substr(0, end));
        rest.remove_prefix(end);
        std::smatch m;
        if (word.size() <= kMaxWord && std::regex_search(word, m, *impl_->re)) return m.str(0);
    }
    return {};
}

std::string check_tag_regex(const std::string& pattern) {
    try {
        const std::regex re(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace lrsched::sim
