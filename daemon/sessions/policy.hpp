// Pure decisions about one session's life (SPEC §2 retry, §3): what an
// action's status on the server means for the session, whether a session
// that ended badly is tried again, and how long to back off. No clock reads:
// `now` and random draws come in as arguments.
#pragma once

#include "api/mde.hpp"
#include "jobs/job.hpp"
#include "sessions/session_state.hpp"

#include <cstdint>
#include <optional>

namespace lrsched::sessions {

// The state a session in `current` moves to because its action was seen as
// `action`; nullopt when nothing changes. A final action goes to
// `collecting` whenever it has a result worth fetching (a completed RunScript
// or GetFile, or a failed action whose earlier commands completed), so
// evidence is never skipped; otherwise straight to its final state.
std::optional<SessionState> state_for_action(SessionState current,
                                             const api::MachineAction& action);

// The final state of a session whose results have all been collected.
SessionState state_after_collecting(const api::MachineAction& action);

// Whether a session that ended `failed` or `expired` at `attempt` (1-based)
// gets another attempt under the job's retry policy.
bool should_retry(SessionState ended, int attempt, const jobs::Retry& retry);

// Full-jitter exponential backoff (AWS, 2015): a delay drawn uniformly in
// [0, min(cap, base * 2^(failures-1))]; `unit` in [0, 1) is the random draw.
std::int64_t backoff_ms(int failures, std::int64_t base_ms, std::int64_t cap_ms, double unit);

}  // namespace lrsched::sessions
