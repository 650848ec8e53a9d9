// The read model's answer to "what is the state of each tenant, job and
// run now" (view/live.hpp says what the folder is for): the store's report
// (store/report.hpp), each unfinished run's ETA (dispatch/estimate.hpp), and,
// when the daemon gives them, its live figures. `lrsched status` prints it;
// its JSON is the `status --json` contract (README, "Following a sweep"),
// which the control API will serve as it is. Load: one per question; a few
// dozen jobs, O(jobs + tenants).
#pragma once

#include "common/clock.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "store/report.hpp"
#include "view/live.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::view {

// The estimated end of a job's latest run, and the status line saying it.
struct Eta {
    std::optional<std::int64_t> at;  // none: finished, paused, or unknown
    std::optional<std::string> source;
    std::string text;
};

struct Overview {
    store::StatusReport status;  // jobs and tenants as the store has them
    std::vector<Eta> etas;       // one per status.jobs, empty Eta for a finished run
    std::optional<Live> live;    // the running daemon's figures, when it gave them
};

// Reads the store's part in one snapshot and estimates each unfinished
// run's end. Errors: store::Report::status's (Errc::not_found for `job`
// unknown).
Result<Overview> read_overview(store::Report& report,
                               const config::Config& cfg,
                               std::optional<std::string_view> job,
                               Millis now);

// The `status --json` document; with the live figures, a "daemon" member
// too.
nlohmann::json to_json(const Overview& o);

// The `sessions JOB --json` document: the job, its latest run's id (null
// before its first run) and the sessions listed.
nlohmann::json to_json(const store::SessionsReport& listed);

}  // namespace lrsched::view
