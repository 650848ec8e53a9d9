#include "sessions/policy.hpp"

#include <algorithm>
#include <cmath>

namespace lrsched::sessions {

using api::ActionStatus;
using api::CommandStatus;

namespace {

bool has_result(const api::MachineAction& a) {
    // PutFile produces no result; a completed RunScript or GetFile does.
    return std::any_of(a.commands.begin(), a.commands.end(), [](const api::ActionCommand& c) {
        return c.status == CommandStatus::completed && c.type != "PutFile";
    });
}

}  // namespace

std::optional<SessionState> state_for_action(SessionState current,
                                             const api::MachineAction& action) {
    std::optional<SessionState> to;
    switch (action.status) {
        case ActionStatus::pending:
            to = SessionState::pending;
            break;
        case ActionStatus::in_progress:
            to = SessionState::running;
            break;
        case ActionStatus::succeeded:
        case ActionStatus::failed:
            to = SessionState::collecting;
            break;
        case ActionStatus::timed_out:
            // A machine never reached: expired. A command that ran out of time
            // after others completed: their results still come home.
            to = has_result(action) || current == SessionState::running ? SessionState::collecting
                                                                        : SessionState::expired;
            break;
        case ActionStatus::cancelled:
            to = has_result(action) ? SessionState::collecting : SessionState::cancelled;
            break;
        case ActionStatus::unknown:
            return std::nullopt;
    }
    if (*to == current) return std::nullopt;
    // The server's report never moves a session backwards (a stale listing
    // can show Pending after we saw InProgress).
    if (!transition_allowed(current, *to)) return std::nullopt;
    return to;
}

SessionState state_after_collecting(const api::MachineAction& action) {
    switch (action.status) {
        case ActionStatus::succeeded:
            return SessionState::done;
        case ActionStatus::cancelled:
            return SessionState::cancelled;
        default:
            return SessionState::failed;
    }
}

bool should_retry(SessionState ended, int attempt, const jobs::Retry& retry) {
    if (ended == SessionState::failed) return attempt <= retry.failed;
    if (ended == SessionState::expired) return attempt <= retry.expired;
    return false;
}

std::int64_t backoff_ms(int failures, std::int64_t base_ms, std::int64_t cap_ms, double unit) {
    const int exponent = std::clamp(failures - 1, 0, 30);
    const double ceiling = std::min(static_cast<double>(cap_ms),
                                    static_cast<double>(base_ms) * std::ldexp(1.0, exponent));
    return static_cast<std::int64_t>(std::clamp(unit, 0.0, 1.0) * ceiling);
}

}  // namespace lrsched::sessions
