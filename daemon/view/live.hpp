// Folder view/: the read model. One answer to "what is the state of each
// tenant, job, run and the limits now", for `lrsched status` today and, in
// the next issue, the control API, the metrics and the status page: they
// add transports, not state. Two parts: what the store holds (jobs, runs,
// sessions by state, calls in the last minute: readable with the daemon
// stopped, store/report.hpp) and, in this header, what only the running
// daemon knows, gathered by the runtime (runtime::Daemon::live) at the
// moment it is asked. May include: config/, dispatch/, store/, common/.
// Load: one gathering per question, O(tenants).
#pragma once

#include "common/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lrsched::view {

// One sliding window of a rate limit (limits/sliding_window.hpp): the calls
// in the window ending now (in flight included) and the most it may hold.
struct WindowUse {
    std::int64_t per_ms = 0;
    std::int64_t calls = 0;
    std::int64_t limit = 0;
};

// The tenant's client certificate, when it has one instead of a secret:
// what identifies it on the app registration and when it ends.
struct CertificateLive {
    std::string file;
    std::string thumbprint;  // SHA-1, upper-case hex, as the portal shows it
    std::string subject;     // from the file: quoted when shown
    Millis not_after = 0;
    // Within 30 days of its end, ended or not yet valid: the sentence
    // config::certificate_check gives; empty otherwise.
    std::string warning;
};

struct TenantLive {
    std::string name;
    std::optional<CertificateLive> certificate;  // none: a client secret
    // The dispatcher's gate: slots its sessions hold against the server's
    // cap, and of those, the ones sent to offline-looking machines.
    int slots_held = 0;
    int slots_held_offline = 0;
    int slot_limit = 0;
    int offline_slots = 0;
    std::size_t sessions_tracked = 0;  // submitting, pending, running or collecting
    std::size_t runs = 0;              // unfinished runs the dispatcher holds
    bool paused = false;
    std::string paused_reason;
    std::uint64_t reads = 0;          // read calls made since start-up
    std::uint64_t token_fetches = 0;  // token requests since start-up
    // Calls since start-up by endpoint (mde/call_counts.hpp names them) and
    // answer: the HTTP status, or "error" when none came.
    std::map<std::string, std::map<std::string, std::uint64_t>> api_calls;
    // 429s since start-up by cause: submit_window, read_window, other.
    std::map<std::string, std::uint64_t> throttled;
    std::vector<WindowUse> submit_windows;  // runliveresponse
    std::vector<WindowUse> read_windows;    // every other API call
    // Results stored since start-up (collector.cpp), and their bytes.
    std::uint64_t result_files = 0;
    std::uint64_t result_bytes = 0;
    // The tracking loop's last successful listing of actions; none yet
    // while nothing was on the server since start-up.
    std::optional<Millis> last_poll;
    // While the API gives no answer: since when, the last error, the retry.
    bool unreachable = false;
    std::optional<Millis> unreachable_since;
    std::optional<Millis> retry_at;
    std::string last_error;
};

struct Live {
    Millis at = 0;  // when it was gathered
    Millis started_at = 0;
    int loops_running = 0;  // work in flight (runtime/daemon.cpp)
    bool stopping = false;
    std::vector<TenantLive> tenants;  // in configuration order
};

// One line for the log: "reads=12 token_fetches=1 slots=3/25 (offline 1/5)
// tracked=3 runs=1 throttled_submit=0 throttled_read=1 throttled_other=0
// results=4 result_bytes=5120", then "paused: ..." or "unreachable since
// ...: ...".
std::string summary(const TenantLive& t);

}  // namespace lrsched::view
