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
#include <optional>
#include <string>
#include <vector>

namespace lrsched::view {

struct TenantLive {
    std::string name;
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
// tracked=3 runs=1", then "paused: ..." or "unreachable since ...: ...".
std::string summary(const TenantLive& t);

}  // namespace lrsched::view
