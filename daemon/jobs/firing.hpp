// When a scheduled job fires (SPEC §2 schedule): the decision, pure. The
// daemon asks it when a job is loaded, at start-up and when its timer ends,
// and stores `mark_fired` so the next answer starts from there.
//
// Semantics are systemd's Persistent= timers: firings missed while the
// daemon was down become one catch-up run at start-up (or none without
// catch_up); firings missed while it ran (a suspended host, a clock stepped
// forward) become one run. Because the next firing is computed from the last
// instant handled, a clock stepped back never fires an instant twice.
// Whether a due firing runs or is skipped for overlap is decided here too
// (firing_skipped), so that the whole schedule is tested with a clock.
#pragma once

#include "jobs/cron.hpp"
#include "jobs/job.hpp"

#include <cstdint>
#include <optional>

namespace lrsched::jobs {

struct FiringInput {
    std::optional<TimePoint> last_fired;  // the last instant handled, from the store
    TimePoint first_loaded;               // when the job was first loaded: nothing before it is due
    TimePoint now;
    bool at_startup = false;  // first decision since the daemon started
    bool catch_up = false;    // the job's schedule.catch_up
};

struct FiringDecision {
    std::optional<TimePoint> run_for;     // create a run standing for this instant
    bool catch_up_run = false;            // ... as a catch-up of firings missed while down
    std::optional<TimePoint> mark_fired;  // store as last_fired (also when nothing runs)
    std::optional<TimePoint> next_wake;   // decide again then; nullopt: never fires again
    int missed = 0;                       // due instants folded into this decision
};

FiringDecision decide_firing(const CronExpr& cron, TimeZone tz, const FiringInput& in);

// What a due firing must know of the job's latest run.
struct LatestRun {
    bool finished = false;     // every session final
    bool resolved = false;     // its targets resolved and its sessions queued
    std::int64_t waiting = 0;  // sessions queued or busy: not on the server yet
};

// SPEC §2 `overlap`: whether a due firing is skipped (and only marked as
// handled, never retried later). `skip` skips while the latest run still
// has targets to resolve or sessions waiting to be submitted; its sessions
// already on the server (pending on offline machines for days) do not hold
// the next run back. `queue` never skips: the new run's sessions queue
// behind the old ones.
bool firing_skipped(Overlap overlap, const std::optional<LatestRun>& latest);

}  // namespace lrsched::jobs
