// A validated job (SPEC §2): what to run, where, and when. Built only by the
// job parser (job_parser.hpp); everything in it has been checked, so the
// dispatcher never re-validates. A fleet job may carry 10^5 targets.
//
// Folder jobs/: job files, cron, firings, targets; includes api/, config/,
// common/.
#pragma once

#include "api/command.hpp"
#include "common/duration.hpp"
#include "common/result.hpp"
#include "config/policy.hpp"
#include "jobs/cron.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
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

// What to do when a run ends (SPEC §2 `on_finish`): a command (argv, no
// shell) and/or an HTTPS webhook, both given the run's summary as JSON. At
// least one of the two is set. The webhook's query string may carry a token
// (Slack and Teams URLs do): it is kept here and in the frozen definition,
// because the closer must post to it, but it is never logged or shown; use
// webhook_display() for messages.
struct OnFinish {
    std::vector<std::string> command;  // argv; argv[0] an absolute path; empty: none
    std::string webhook;               // https://host[:port]/path[?query]; empty: none
    bool diff = false;                 // add the diff against the previous run
    friend bool operator==(const OnFinish&, const OnFinish&) = default;
};

// Evidence retention (SPEC §2 `evidence`): unset means keep everything.
struct EvidenceKeep {
    std::optional<std::int64_t> keep_runs;  // >= 1
    std::optional<Duration> keep_for;       // > 0
    bool keeps_all() const noexcept { return !keep_runs && !keep_for; }
    friend bool operator==(const EvidenceKeep&, const EvidenceKeep&) = default;
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
    std::optional<OnFinish> on_finish;
    EvidenceKeep evidence;
};

// The job as canonical JSON: stored as a job's and a run's frozen definition.
nlohmann::json to_json(const Job& job);

// The reverse, for the closer, which reads the run's frozen copy (not the
// job file, which may have changed since): `on_finish` and `evidence` out of
// a definition made by to_json(). A definition frozen before these keys
// existed has neither: nullopt / keep everything. A malformed one is an
// error naming the field (the message holds no URL).
Result<std::optional<OnFinish>> on_finish_of(const nlohmann::json& definition);
Result<EvidenceKeep> evidence_keep_of(const nlohmann::json& definition);

// The webhook as it may be shown (validate, logs, status): scheme, host,
// port and path; the query string, fragment and any user information are
// dropped, being possibly a secret (common/url.hpp). "" for "".
std::string webhook_display(std::string_view url);

}  // namespace lrsched::jobs
