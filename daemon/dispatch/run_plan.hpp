// What the dispatcher needs of a run, read back from the job definition that
// was frozen into it (jobs::to_json): later edits of the job file never
// change a run already started. Parsed once per run when the daemon loads
// it; a few dozen runs at a time. Pure.
#pragma once

#include "common/result.hpp"
#include "config/policy.hpp"
#include "jobs/job.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::dispatch {

struct RunPlan {
    std::int64_t run_id = 0;
    std::string job;
    std::string tenant;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> deadline_at;
    std::vector<jobs::Command> commands;
    std::string comment;
    int priority = policy::kDefaultPriority;
    jobs::Retry retry;
    std::optional<jobs::TimeWindow> window;
    jobs::TimeZone tz = jobs::TimeZone::utc;
    jobs::Targets targets;  // from_file's entries already merged into `include`

    // Whether new sessions may start at `now_ms`; when not, `*opens_at` is
    // set to the instant the window opens next.
    bool window_open(std::int64_t now_ms, std::int64_t* opens_at) const;
    int run_scripts() const;  // RunScript commands: bounds how long the action may run
};

// Reads a frozen definition. Errors name the run and the field.
Result<RunPlan> plan_from_definition(std::int64_t run_id, std::string_view definition);

}  // namespace lrsched::dispatch
