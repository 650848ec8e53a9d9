// The session state machine of SPEC §3: the fourteen states, their names as
// stored in SQLite and shown to operators, and the one table of legal
// transitions that the store enforces on every change. Pure and constexpr:
// consulted once per state change (a few per session, ~10 a minute).
//
// Folder sessions/: the session state machine, its policy, the correlation
// tag; includes api/, jobs/, common/.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace lrsched::sessions {

enum class SessionState : std::uint8_t {
    queued,
    busy,
    submitting,
    pending,
    running,
    collecting,
    done,
    failed,
    expired,
    not_found,
    rejected,
    cancelled,
    withdrawn,
    gave_up,
};

// Every state, in declaration order (kAllStates[i] has the value i).
inline constexpr std::array kAllStates{
    SessionState::queued,    SessionState::busy,     SessionState::submitting,
    SessionState::pending,   SessionState::running,  SessionState::collecting,
    SessionState::done,      SessionState::failed,   SessionState::expired,
    SessionState::not_found, SessionState::rejected, SessionState::cancelled,
    SessionState::withdrawn, SessionState::gave_up,
};

// The name as written in SQLite, logs and the control API ("not_found").
std::string_view to_string(SessionState state) noexcept;
// The inverse of to_string; nullopt for anything else (case-sensitive).
std::optional<SessionState> parse_state(std::string_view name) noexcept;

// A small set of states, so that a table row reads as a list.
class StateSet {
  public:
    constexpr StateSet(std::initializer_list<SessionState> states) noexcept {
        for (const SessionState s : states)
            bits_ |= bit(s);
    }
    constexpr bool contains(SessionState s) const noexcept { return (bits_ & bit(s)) != 0; }
    constexpr bool empty() const noexcept { return bits_ == 0; }

  private:
    static constexpr std::uint32_t bit(SessionState s) noexcept {
        return std::uint32_t{1} << static_cast<unsigned>(s);
    }
    std::uint32_t bits_ = 0;
};

struct TransitionRow {
    SessionState from;
    StateSet to;
};

// SPEC §3's table of states, one row per from-state, in kAllStates order.
// Creation is the only other move: (none) → queued, done by the store when it
// queues a session. Anything not listed, X → X included, is illegal: the store
// refuses it and writes nothing, because it can only come from a bug.
//
// The SPEC's "next" column lists the usual path; the rows below add the moves
// it allows in prose ("a session may skip states it was never seen in ... any
// state not yet final can become cancelled, withdrawn or gave_up where that
// makes sense"). Why each one exists:
// - submitting -> collecting, expired, cancelled: after a crash, a timeout or
//   a 5xx, reconciliation finds the action by its tag, and it may have ended
//   already (completed, expired on the server, or cancelled by someone).
// - pending -> collecting: the action can start and end between two polls,
//   so a session is never seen running.
// - cancelled (by the operator) from every state where there is still
//   something to stop: queued and busy locally; pending and running by
//   cancelling the action on the server; collecting by dropping the downloads.
// - withdrawn (job file deleted) only from queued and busy, before anything
//   reached the server: sessions already there run to the end and their
//   results are still collected (SPEC §3).
// - gave_up (run deadline passed) from queued, busy and pending (held by the
//   server for an unreachable machine), where the work has not started. Not
//   from submitting (the outcome of the call is unknown until reconciled),
//   nor from running or collecting (the work is under way; let it end).
// - failed -> queued and expired -> queued: a new attempt per retry.failed and
//   retry.expired; without one they stay where they are.
inline constexpr std::array<TransitionRow, kAllStates.size()> kTransitions{{
    {SessionState::queued,
     {SessionState::submitting, SessionState::cancelled, SessionState::withdrawn,
      SessionState::gave_up}},
    {SessionState::busy,
     {SessionState::queued, SessionState::cancelled, SessionState::withdrawn,
      SessionState::gave_up}},
    {SessionState::submitting,
     {SessionState::pending, SessionState::running, SessionState::collecting, SessionState::busy,
      SessionState::not_found, SessionState::rejected, SessionState::queued, SessionState::expired,
      SessionState::cancelled}},
    {SessionState::pending,
     {SessionState::running, SessionState::collecting, SessionState::expired,
      SessionState::cancelled, SessionState::gave_up}},
    {SessionState::running, {SessionState::collecting, SessionState::cancelled}},
    {SessionState::collecting, {SessionState::done, SessionState::failed, SessionState::cancelled}},
    {SessionState::done, {}},
    {SessionState::failed, {SessionState::queued}},
    {SessionState::expired, {SessionState::queued}},
    {SessionState::not_found, {}},
    {SessionState::rejected, {}},
    {SessionState::cancelled, {}},
    {SessionState::withdrawn, {}},
    {SessionState::gave_up, {}},
}};

constexpr bool transition_allowed(SessionState from, SessionState to) noexcept {
    return kTransitions[static_cast<std::size_t>(from)].to.contains(to);
}

// Final: nothing can ever happen to the session again.
constexpr bool is_final(SessionState s) noexcept {
    return kTransitions[static_cast<std::size_t>(s)].to.empty();
}

// Terminal: the session's current attempt is over. failed and expired are
// terminal but not final, since the retry policy may queue them again; they
// count as finished for a run's tally.
constexpr bool is_terminal(SessionState s) noexcept {
    return is_final(s) || s == SessionState::failed || s == SessionState::expired;
}

}  // namespace lrsched::sessions
