// `lrsched plan JOB`'s answer (SPEC §6), pure: given the machines the API
// listed, the library's listing and library_dir's scan, the text saying how
// many machines the job selects, how many look offline, the run's estimated
// duration (dispatch/estimate.hpp) and what the live response library lacks.
// The listings are made by the caller: the running daemon with its own
// client and read budget (runtime/control_listen.cpp), or the CLI's
// blocking client when no daemon runs (cli/plan.cpp). Nothing is submitted
// or uploaded. Load: one per `plan` command; O(fleet).
#pragma once

#include "api/library.hpp"
#include "api/mde.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "jobs/job.hpp"
#include "store/report.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lrsched::view {

struct PlanInputs {
    const config::Tenant* tenant = nullptr;
    const jobs::Job* job = nullptr;
    store::SessionSamples samples;    // the estimate's measured session times
    std::vector<api::Machine> fleet;  // the tenant's machines, as listed
    // The library's listing, when the job uses it or library_dir is set.
    std::optional<Result<std::vector<api::LibraryFile>>> library;
    // library_dir's scan, when it is configured.
    std::optional<Result<api::LibraryScan>> library_dir;
};

// Whether plan needs the library's listing for this job and tenant.
bool plan_needs_library(const config::Tenant& t, const jobs::Job& job);

// The plan's text, one fact per line, ending with a newline.
std::string plan_text(PlanInputs in, Millis now);

}  // namespace lrsched::view
