// Names of the session states, and compile-time checks that the transition
// table in session_state.hpp is laid out the way transition_allowed reads it.
#include "sessions/session_state.hpp"

namespace lrsched::sessions {
namespace {

constexpr std::array<std::string_view, kAllStates.size()> kNames{
    "queued", "busy",    "submitting", "pending",  "running",   "collecting", "done",
    "failed", "expired", "not_found",  "rejected", "cancelled", "withdrawn",  "gave_up",
};

constexpr bool rows_in_state_order() {
    for (std::size_t i = 0; i < kAllStates.size(); ++i) {
        if (static_cast<std::size_t>(kAllStates[i]) != i) return false;
        if (kTransitions[i].from != kAllStates[i]) return false;
    }
    return true;
}
static_assert(rows_in_state_order(), "kTransitions must have one row per state, in order");

constexpr bool no_self_transitions() {
    for (const SessionState s : kAllStates) {
        if (transition_allowed(s, s)) return false;
    }
    return true;
}
static_assert(no_self_transitions(), "X -> X is never a transition");

// The SPEC's final states are exactly those with an empty row.
static_assert(is_final(SessionState::done) && is_final(SessionState::not_found) &&
              is_final(SessionState::rejected) && is_final(SessionState::cancelled) &&
              is_final(SessionState::withdrawn) && is_final(SessionState::gave_up));
static_assert(!is_final(SessionState::failed) && is_terminal(SessionState::failed));
static_assert(!is_final(SessionState::expired) && is_terminal(SessionState::expired));
static_assert(!is_terminal(SessionState::queued) && !is_terminal(SessionState::collecting));

}  // namespace

std::string_view to_string(SessionState state) noexcept {
    return kNames[static_cast<std::size_t>(state)];
}

std::optional<SessionState> parse_state(std::string_view name) noexcept {
    for (const SessionState s : kAllStates) {
        if (kNames[static_cast<std::size_t>(s)] == name) return s;
    }
    return std::nullopt;
}

}  // namespace lrsched::sessions
