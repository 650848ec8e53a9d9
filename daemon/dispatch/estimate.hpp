// How long a run will take, and when a run under way will end (issue 11,
// item 4), from measured session times: what `lrsched plan` prints and what
// the ETA of `lrsched status` says. Pure: the store reads the samples and
// the backlog (store/report.hpp), this file only does arithmetic, with `now`
// an argument. Load: one estimate per plan, one per unfinished job per
// status; the offline waits are scheduled one by one (O(n log slots), 10^5
// offline-looking sessions in a few milliseconds).
//
// The model, every figure relative to `now`:
// - submits: the tenant's sliding window lets `calls` go at once, then
//   `calls` more every `per`, so the i-th waiting session (0-based) leaves
//   at floor(i / calls) * per (the window's current use is not counted);
// - online sessions take the typical time T each (the median measured time
//   from submission to end) through the slots not held by offline ones:
//   concurrent_sessions - offline slots in use, and all of them once the
//   offline waits are over. Sessions already on the server take what is
//   left of T; one past T is "overdue" and counted as ending now;
// - offline-looking sessions go through offline_slots, each as soon as a
//   slot is free and its submit is due, and wait W each: the measured time
//   of offline-looking sessions when there is one, else queue_expiry. A
//   session still pending past its typical time waits for a machine that is
//   not there: it ends by queue_expiry after its submission (the server's,
//   or the daemon's backstop), and only past that is it "overdue". When
//   pending sessions hold no slot (pending_counts_as_running: false) they all
//   wait side by side;
// - busy sessions come back at their not_before (or retry.busy_every from
//   now), are submitted at the rate and then take T.
// The run ends when the last of these does. A paused job or tenant has no
// end, nor has a run whose offline-looking sessions can never be sent
// (offline_slots: 0 while pending counts).
#pragma once

#include "common/clock.hpp"
#include "config/config.hpp"
#include "config/policy.hpp"
#include "store/report.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lrsched::dispatch {

// The documented default when nothing was measured: a typical collection
// (README, `lrsched plan`); a RunScript alone may take up to 10 minutes.
inline constexpr Millis kDefaultSessionMs = 120'000;

enum class TimesSource {
    job,      // the job's own last finished runs
    tenant,   // the tenant's recent sessions, of any job
    assumed,  // nothing measured: kDefaultSessionMs
};

// The figures an estimate runs on, with where they come from.
struct SessionTimes {
    TimesSource source = TimesSource::assumed;
    int runs = 0;              // job: the finished runs measured
    std::size_t sessions = 0;  // the online samples behind `online_ms`
    Millis online_ms = kDefaultSessionMs;
    std::optional<Millis> offline_ms;  // measured offline-looking sessions, when any
    std::size_t offline_sessions = 0;
};

// The median of `v` (the mean of the two middle values for an even count).
// Precondition: `v` is not empty.
Millis median(std::vector<Millis> v);

// The figures from the store's samples: medians when there are online
// samples, else kDefaultSessionMs and TimesSource::assumed.
SessionTimes session_times(const store::SessionSamples& samples);

// "job", "tenant" or "default": the source in a word (status --json's
// `eta_source`, the status line).
const char* source_word(TimesSource source);

// How the source is said in a sentence: "from this job's last 3 runs: median
// 41s per session", "from the tenant's last 200 sessions: median 41s per
// session", "no measurements yet: 2m per session assumed".
std::string describe(const SessionTimes& times);

// A duration for people, to the second above 10 s: "0.4s", "41s", "2m 5s",
// "3h 5m", "2d 4h".
std::string approx_duration(Millis ms);

struct EstimateLimits {
    std::int64_t submit_calls = 10;
    Millis submit_per = 60'000;
    int concurrent_sessions = 25;
    int offline_slots = 5;
    bool pending_counts = true;
    Millis queue_expiry = 72LL * 3'600'000;
};
EstimateLimits limits_of(const config::Limits& limits);

// A session on the server (submitting, pending, running or collecting).
struct InFlight {
    bool offline = false;  // sent to an offline-looking machine and not running yet
    Millis elapsed = 0;    // since its submission
    bool pending = false;  // the server holds it until the machine is reachable
};

// What is left of a run.
struct RunWork {
    std::int64_t queued_online = 0;
    std::int64_t queued_offline = 0;
    std::int64_t busy = 0;
    std::optional<Millis> busy_until;               // the latest not_before of the busy ones
    Millis busy_every = policy::kDefaultBusyEvery;  // when busy_until is unknown
    std::vector<InFlight> in_flight;
    bool paused = false;  // the job or its tenant
};

// The work of a run as the store reported it (queued split by looks, busy,
// in flight with their submission times), seen at `now`.
RunWork run_work(const store::RunReport& run, Millis now);

enum class Blocked {
    no,
    paused,            // nothing is submitted while the job or tenant is paused
    no_offline_slots,  // offline-looking sessions wait, and offline_slots is 0
};

struct Estimate {
    Blocked blocked = Blocked::no;
    Millis end_at = 0;    // absolute (unix ms); valid when not blocked
    Millis duration = 0;  // end_at - now
    std::int64_t to_submit = 0;
    Millis submits = 0;       // until the last waiting session is submitted
    Millis online = 0;        // until the last online (or busy) session ends
    int online_slots = 0;     // slots online sessions have while offline ones wait
    Millis offline = 0;       // until the last offline-looking session ends
    Millis offline_each = 0;  // W: measured, or queue_expiry
    bool offline_measured = false;
    std::int64_t stalled = 0;  // pending past their typical time: up to queue_expiry
    std::int64_t overdue = 0;  // sessions on the server past every bound
};

// The run's end from `work` at the figures `times`, within `limits`.
Estimate estimate_run(const RunWork& work,
                      const SessionTimes& times,
                      const EstimateLimits& limits,
                      Millis now);

}  // namespace lrsched::dispatch
