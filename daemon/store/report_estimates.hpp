// What `lrsched status` and `lrsched plan` estimate from (issue 11): a run's
// backlog and the measured session times, read by store::Report on its
// read-only connection inside the report's transaction. Internal to the
// store: report.cpp calls these; the structs are in report.hpp.
#pragma once

#include "common/result.hpp"
#include "store/report.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace lrsched::store {

class Database;

// Fills run.backlog: queued sessions by looks, the busy ones' latest
// not_before, the sessions on the server with their submission times and the
// run's retry.busy_every. A few index seeks; the rows read are those in flight.
Result<void> read_backlog(Database& db, int schema_version, RunReport& run);

// The job's samples (job_id: the job's row, when the store has it under the
// tenant) from its last kMeasuredRuns finished runs that have any, else the
// tenant's last kTenantSessions, else none. Reads at most kMeasuredPerRun
// sessions per run and end state, newest first, each one's last event by
// index: a few thousand rows at most, whatever the size of the runs.
Result<SessionSamples> read_samples(Database& db,
                                    int schema_version,
                                    std::optional<std::int64_t> job_id,
                                    std::string_view tenant);

}  // namespace lrsched::store
