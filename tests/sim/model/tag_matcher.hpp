// Finds the correlation tag (a configurable regex) in an action's Comment.
// The only user of std::regex in the simulator, kept behind a pimpl so that
// <regex> (slow to compile, and see tag_matcher.cpp) stays out of headers.
// Called once per created action.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace lrsched::sim {

class TagMatcher {
  public:
    // The pattern must be valid (check_tag_regex); an invalid one matches nothing.
    explicit TagMatcher(const std::string& pattern);
    ~TagMatcher();
    TagMatcher(TagMatcher&&) noexcept;
    TagMatcher& operator=(TagMatcher&&) noexcept;

    // The first match inside a whitespace-separated word of at most 256
    // characters, or empty. std::regex recurses per character, so words are
    // bounded to keep a hostile Comment from exhausting the stack.
    std::string find(const std::optional<std::string>& comment) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Empty when `pattern` is a valid ECMAScript regex, else the reason.
std::string check_tag_regex(const std::string& pattern);

}  // namespace lrsched::sim
