// Resolving a job's selectors (SPEC §2) against the tenant's machine list.
// The daemon pages through the whole list (`$top=10000&$skip=N`, 10 read
// calls for a 100,000-machine fleet) and matches locally: one cost whatever
// the number of selectors, where a query per id or host name would spend
// the read budget of hours. Pure.
#pragma once

#include "api/mde.hpp"
#include "jobs/job.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lrsched::jobs {

struct Resolution {
    std::vector<api::Machine> machines;          // selected, each once, in listing order
    std::vector<std::string> unknown_ids;        // named by id, absent from the listing
    std::vector<std::string> unknown_hostnames;  // named by host name, absent from the listing
    std::size_t excluded = 0;                    // matched, then removed by `exclude`
};

// Takes the fleet by value: the selected machines are moved out of it.
Resolution resolve_targets(const Targets& targets, std::vector<api::Machine> fleet);

// A machine looks offline when the API does not report it Active, or its
// last full report (normally daily) is older than `stale_after_ms`.
// `now_ms` and lastSeen are Unix milliseconds / ISO 8601.
bool looks_offline(const api::Machine& m, std::int64_t now_ms, std::int64_t stale_after_ms);

// ISO 8601 UTC ("2026-11-22T10:00:00Z", fractions and "+00:00" accepted) to
// Unix ms; nullopt when unreadable.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view s);

}  // namespace lrsched::jobs
