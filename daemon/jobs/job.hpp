// A validated job (SPEC §2): what to run, where, and when. Built only by the
// job parser (job_parser.hpp); everything in it has been checked, so the
// dispatcher never re-validates. A fleet job may carry 10^5 targets.
//
// Folder jobs/: job files, cron, firings, targets; includes api/, config/,
// common/.
#pragma once

#include "api/command.hpp"
#include "common/duration.hpp"
#include "config/policy.hpp"
#include "jobs/cron.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::jobs {

using namespace std::chrono_literals;

// The commands are the API's own (api/command.hpp); a job holds them validated.
using api::Command;
using api::CommandType;
using api::to_string;

struct Selectors {
    std::vector<std::string> machines;   // lower-case 40-hex ids
    std::vector<std::string> hostnames;  // lower-case computerDnsName
    std::vector<std::string> tags;       // machineTags
    std::vector<std::string> groups;     // rbacGroupName
    bool empty() const noexcept {
        return machines.empty() && hostnames.empty() && tags.empty() && groups.empty();
    }
};

struct Targets {
    Selectors include;            // machines, hostnames, tags, groups, plus from_file's entries
    std::vector<std::string> os;  // osPlatform: narrows `include`, never selects alone
    std::string from_file;        // as written in the job file, or empty
    std::string from_file_path;   // resolved and confined to jobs_dir, or empty
    Selectors exclude;
};

enum class Overlap { skip, queue };

struct Schedule {
    std::optional<CronExpr> cron;      // absent: the job runs once, when first loaded
    std::optional<TimeWindow> window;  // new sessions start only inside it
    TimeZone tz = TimeZone::utc;
    Overlap overlap = Overlap::skip;
    bool catch_up = false;
};

struct Retry {
    Duration busy_every{policy::kDefaultBusyEvery};
    int failed = 0;
    int expired = 0;
};

struct Job {
    std::string name;         // the file's stem
    std::string source_path;  // the job file
    std::string description;
    std::string tenant;  // filled from the configuration when there is one tenant
    Targets targets;
    std::vector<Command> commands;
    std::string comment;
    Schedule schedule;
    bool scheduled() const noexcept { return schedule.cron.has_value(); }
    int priority = policy::kDefaultPriority;
    Retry retry;
    std::optional<Duration> deadline;
};

// The job as canonical JSON: stored as a job's and a run's frozen definition.
nlohmann::json to_json(const Job& job);

}  // namespace lrsched::jobs
