// The daemon's fixed policy: every margin, period, backoff, retry count,
// page size and body cap that is not configuration, written once with the
// reason for its value. config.hpp holds what an operator sets (Limits, the
// tenant's settings, whose defaults of lrsched's own choosing come from
// here); the dispatcher, the client (mde/) and the runtime read these.
// Compile-time constants, no state; includes nothing but common/. Times are
// Millis, the daemon's one time type (common/clock.hpp).
#pragma once

#include "common/clock.hpp"

#include <cstdint>

namespace lrsched::policy {

// ---- Defaults of settings an operator may override --------------------

// tenants[].listing_lag: a new action may answer 404 for a moment after its
// creation (mde-api.md §4); only a submit whose answer was lost waits this
// long, so a generous margin costs a slot for a while, never a duplicate.
inline constexpr Millis kDefaultListingLag = 120'000;  // 2 min
// tenants[].clock_skew: a server clock behind ours must not hide an action
// from the listing; ten minutes is far beyond a kept clock's drift and costs
// a few more entries per listing.
inline constexpr Millis kDefaultClockSkew = 600'000;  // 10 min
// tenants[].offline_after: lastSeen is the last full report, normally every
// 24 h (mde-api.md, Machine); an hour over a day keeps a report that is a
// little late from making a healthy machine look offline.
inline constexpr Millis kDefaultOfflineAfter = 90'000'000;  // 25 h
// retry.busy_every (SPEC §2's figure): a busy machine is tried again after
// this; ten minutes, a RunScript's own timeout, outlasts most other live
// responses. Also what the dispatcher and the ETA assume without a plan.
inline constexpr Millis kDefaultBusyEvery = 600'000;  // 10 min
// A job's priority (0..100) when its file gives none (and a stored
// definition without one): the middle, so a job can be put before or after
// the others without touching them.
inline constexpr int kDefaultPriority = 50;

// ---- Periods measured in polls (tenants[].poll_interval) ----------------

// How long past its own limits (queue_expiry, runscript_timeout) the daemon
// waits for the server's word: two polls, so one late listing never ends a
// session the server still runs.
inline constexpr int kGracePolls = 2;
// How often the machines of waiting offline-looking sessions are listed
// again: four polls (2 min at the default 30 s), two filtered listings each.
inline constexpr int kHealthEveryPolls = 4;
// How often a job paused for a missing library file looks again: ten polls
// (5 min at the default 30 s), one read and the library_dir's uploads.
inline constexpr int kLibraryRecheckPolls = 10;
// Bounds of both re-checks above: never more than once a second (a test's
// compressed poll_interval), never less than every five minutes.
inline constexpr Millis kRecheckMin = 1'000;
inline constexpr Millis kRecheckMax = 300'000;
// While every slot is held and work waits, the actions are listed every
// kFastPollShare x the tightest sustained read spacing (100/min and 1500/h:
// every 4.8 s): half the read budget, the other half for everything else.
inline constexpr int kFastPollShare = 2;
// ...but never more often than this, whatever the configured read rate.
inline constexpr Millis kFastPollMin = 100;
// A lost submit is looked up by its tag every listing_lag / 4 (four looks
// before it is declared never created), at most every 250 ms.
inline constexpr int kLookupsPerLag = 4;
inline constexpr Millis kLookupMin = 250;

// ---- Backoffs -----------------------------------------------------------

// A 429 without a usable Retry-After: a read waits this long before its
// next try; the submits back off from it, doubling with full jitter. A few
// seconds: the window that refused the call moves on within a minute.
inline constexpr Millis kThrottleWait = 5'000;
// The submits' 429 backoff stops doubling here: a throttle that lasts is
// tried at least every five minutes.
inline constexpr Millis kThrottleBackoffCap = 300'000;  // 5 min
// While the API gives no answer at all, the first retry waits a poll
// interval clamped to [250 ms, 5 s] (quick after a blip, gentle under a
// test's compressed interval), then doubles with jitter up to 5 minutes, so
// an outage is noticed to end within 5 minutes.
inline constexpr Millis kUnreachableBaseMin = 250;
inline constexpr Millis kUnreachableBaseMax = 5'000;
inline constexpr Millis kUnreachableBackoffCap = 300'000;  // 5 min
// The tracking loop after a failed read or token request (an HTTP error,
// not an outage): at most a poll interval, and at most 5 s, so a 5xx moment
// delays tracking little and a failing call is not repeated in a loop.
inline constexpr Millis kReadErrorBackoff = 5'000;
// A loop that threw (a bug's trace) starts again after this: long enough
// not to spin on a repeating exception, short enough that its work resumes
// soon. Not kReadErrorBackoff: another event, the same figure by chance.
inline constexpr Millis kLoopRestartDelay = 5'000;
// A result not stored (download cut, disk full) is fetched again after a
// poll interval, doubling up to ten minutes: a cut download usually works
// at once; a full disk needs the operator. Never sooner than 250 ms.
inline constexpr Millis kCollectBackoffCap = 600'000;  // 10 min
inline constexpr Millis kCollectRetryMin = 250;
// The dispatcher could not record a session's submit start: the store (a
// full disk, a busy file) is tried again in a second, not in a tight loop.
inline constexpr Millis kStoreErrorRetry = 1'000;

// ---- Retries and give-ups ------------------------------------------------

// A read answered 429 is tried again up to three times, waiting out
// Retry-After each time, before its caller sees the 429 (and tries at its
// own next turn): a budget shared with other tools is rarely out for long.
inline constexpr int kReadRetries = 3;
// A result link lives 30 minutes; one that expired before its download
// (403) is asked for again, twice at most: a third 403 is not an expiry.
inline constexpr int kLinkRefreshes = 2;
// The same rejection this many submits in a row pauses the job (SPEC §3: a
// script missing from the library): once is a machine's answer, three
// times is the job's.
inline constexpr int kRejectionsToPause = 3;
// A run whose start failed (listing, library check, store) tries again
// after this (or sooner, at a library re-check): soon enough for a passing
// failure, rare enough that each try's fleet listing costs little.
inline constexpr Millis kResolveRetry = 30'000;
// A run that cannot start for a reason only an operator fixes (its tenant is
// not configured, its stored definition unreadable) looks again each minute.
inline constexpr Millis kUnstartableRetry = 60'000;

// ---- Periods of the process -------------------------------------------

// Job files are read this often when inotify cannot watch jobs_dir (SPEC
// §2: a change is seen "within a few seconds"); a few stat calls each time.
inline constexpr Millis kScanEvery = 2'000;
// How often systemd's STATUS= line is refreshed (one store report each time).
inline constexpr Millis kNotifyStatusEvery = 5'000;
// jobs_scan_every: while inotify watches jobs_dir the periodic scan is only
// a safety net (an event lost to a full queue is also a rescan, see
// runtime/jobs_watch.hpp): once a minute costs nothing and bounds how long
// a change the kernel did not report can go unseen.
inline constexpr Millis kDefaultWatchedScanEvery = 60'000;
// Events on jobs_dir within this long of the first become one rescan: an
// editor's save is a burst (vim: 4913, a ~ backup, the file renamed over;
// others: a temporary file renamed over) that must be read once, after it
// ends. A rescan then follows a save within 0.3 s, well inside "a few
// seconds", and no burst, however long, delays it more.
inline constexpr Millis kJobsDebounce = 300;
// A job file that disappears while the daemon runs is taken as deleted
// once it has stayed away this long (an editor's save may remove it for a
// moment); still "within a few seconds" of SPEC §2.
inline constexpr Millis kDeleteConfirm = 1'500;
// api_calls rows older than every window are deleted this often: the table
// stays near an hour of calls, and pruning is one statement.
inline constexpr Millis kPruneEvery = 600'000;  // 10 min
// SIGTERM: calls in flight get this long to finish before they are
// cancelled (runtime/daemon.cpp, Daemon::stop), and cancelled, this long to
// unwind; that leaves half a second of SPEC §7's "exit within 5 s" to
// persist and exit.
inline constexpr Millis kStopGrace = 4'000;
inline constexpr Millis kCancelGrace = 500;
// A token is refreshed when a fifth of its lifetime is left, and at most
// five minutes before its end (mde-api.md §7: "a few minutes before"): one
// request an hour for the usual 1 h token, early for a short-lived one.
inline constexpr int kTokenRefreshShare = 5;
inline constexpr Millis kTokenRefreshMaxMargin = 300'000;  // 5 min

// ---- Paging and body caps of API answers --------------------------------

// Listings ask for the API's largest $top (mde-api.md: 10,000), the
// fewest calls of the read budget.
inline constexpr int kPage = 10'000;
// A million entries: a listing that never ends is a server's bug.
inline constexpr int kMaxPages = 100;
// A page of 10,000 entities, with room for long names and tags (their
// over-long strings are dropped while the page arrives: api/mde.hpp).
inline constexpr std::uint64_t kListLimit = std::uint64_t{64} * 1024 * 1024;
// Any other API answer (a link, a submit's or a cancel's answer).
inline constexpr std::uint64_t kSmallLimit = std::uint64_t{1024} * 1024;
// The live response library's list: many files with long descriptions.
inline constexpr std::uint64_t kLibraryListLimit = 16 * kSmallLimit;
// A token answer: a JWT of a few kilobytes and its envelope.
inline constexpr std::uint64_t kTokenLimit = std::uint64_t{64} * 1024;
// A RunScript transcript larger than this is stored, but not parsed for its
// exit code: parsing reads it whole into memory.
inline constexpr std::uint64_t kMaxTranscript = std::uint64_t{16} * 1024 * 1024;

// ---- Deadlines of one call (net::Timeouts' four phases) -----------------

struct CallDeadlines {
    Millis connect;    // name resolution and TCP connect
    Millis handshake;  // TLS handshake
    Millis io;         // each write, each read (idle time)
    Millis total;      // the whole call
};
// An API call: answers are small and quick; a minute bounds a stalled one.
inline constexpr CallDeadlines kApiDeadlines{10'000, 10'000, 30'000, 60'000};
// A library upload: 20 MB at a slow 200 kB/s still fits; a stalled
// transfer does not.
inline constexpr CallDeadlines kUploadDeadlines{10'000, 10'000, 60'000, 600'000};
// A result download (up to 4 GB): the total bounds a stalled transfer, not
// a slow one.
inline constexpr CallDeadlines kDownloadDeadlines{10'000, 10'000, 60'000, 21'600'000};

}  // namespace lrsched::policy
