#include "sessions/session_state.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>

using lrsched::sessions::is_final;
using lrsched::sessions::is_terminal;
using lrsched::sessions::kAllStates;
using lrsched::sessions::parse_state;
using lrsched::sessions::SessionState;
using lrsched::sessions::to_string;
using lrsched::sessions::transition_allowed;

namespace {

// SPEC §3 written out again, by hand, as (from, to) name pairs: independent
// of kTransitions, so that a typo in either one fails the comparison below.
const std::set<std::pair<std::string, std::string>> kSpecPairs{
    {"queued", "submitting"},    {"queued", "cancelled"},      {"queued", "withdrawn"},
    {"queued", "gave_up"},       {"busy", "queued"},           {"busy", "cancelled"},
    {"busy", "withdrawn"},       {"busy", "gave_up"},          {"submitting", "pending"},
    {"submitting", "running"},   {"submitting", "collecting"}, {"submitting", "busy"},
    {"submitting", "not_found"}, {"submitting", "rejected"},   {"submitting", "queued"},
    {"submitting", "expired"},   {"submitting", "cancelled"},  {"pending", "running"},
    {"pending", "collecting"},   {"pending", "expired"},       {"pending", "cancelled"},
    {"pending", "gave_up"},      {"running", "collecting"},    {"running", "cancelled"},
    {"collecting", "done"},      {"collecting", "failed"},     {"collecting", "cancelled"},
    {"failed", "queued"},        {"expired", "queued"},
};

}  // namespace

TEST_CASE("every state has a distinct name that parses back to it") {
    std::set<std::string_view> names;
    for (const SessionState s : kAllStates) {
        CAPTURE(to_string(s));
        CHECK(parse_state(to_string(s)) == s);
        CHECK(names.insert(to_string(s)).second);
    }
    CHECK(names.size() == 14);
    CHECK(to_string(SessionState::not_found) == "not_found");
    CHECK(to_string(SessionState::gave_up) == "gave_up");
}

TEST_CASE("unknown state names are refused") {
    for (const char* bad : {"", "Queued", "queued ", "gave-up", "notfound", "final", "none"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_state(bad).has_value());
    }
}

TEST_CASE("the transition table matches SPEC section 3 pair for pair") {
    for (const SessionState from : kAllStates) {
        for (const SessionState to : kAllStates) {
            const std::pair<std::string, std::string> pair{to_string(from), to_string(to)};
            CAPTURE(pair.first);
            CAPTURE(pair.second);
            CHECK(transition_allowed(from, to) == kSpecPairs.contains(pair));
        }
    }
}

TEST_CASE("final states have no way out and terminal adds failed and expired") {
    const std::set<std::string_view> finals{"done",      "not_found", "rejected",
                                            "cancelled", "withdrawn", "gave_up"};
    for (const SessionState s : kAllStates) {
        CAPTURE(to_string(s));
        CHECK(is_final(s) == finals.contains(to_string(s)));
        const bool retryable = s == SessionState::failed || s == SessionState::expired;
        CHECK(is_terminal(s) == (is_final(s) || retryable));
        bool has_exit = false;
        for (const SessionState to : kAllStates)
            has_exit = has_exit || transition_allowed(s, to);
        CHECK(has_exit == !is_final(s));
    }
}

static_assert(transition_allowed(SessionState::submitting, SessionState::collecting));
static_assert(!transition_allowed(SessionState::running, SessionState::withdrawn));
static_assert(!transition_allowed(SessionState::queued, SessionState::queued));
