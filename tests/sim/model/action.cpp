// Planning an action's life at creation and reading its status, command
// times and entity JSON at any later `now` (see action.hpp).
#include "sim/model/action.hpp"

#include <algorithm>
#include <cmath>

namespace lrsched::sim {
namespace {

Ticks ticks_at(Ticks start, double t) {
    return start + static_cast<Ticks>(std::llround(t * static_cast<double>(kTicksPerSecond)));
}

nlohmann::json time_or_null(Ticks start, double t, double limit) {
    if (t > limit || t == kNever) return nullptr;
    return iso_time(ticks_at(start, t));
}

}  // namespace

const char* command_type_name(CommandType t) {
    switch (t) {
        case CommandType::PutFile:
            return "PutFile";
        case CommandType::RunScript:
            return "RunScript";
        case CommandType::GetFile:
            return "GetFile";
    }
    return "?";
}

const char* status_name(Status s) {
    switch (s) {
        case Status::Pending:
            return "Pending";
        case Status::InProgress:
            return "InProgress";
        case Status::Succeeded:
            return "Succeeded";
        case Status::Failed:
            return "Failed";
        case Status::TimeOut:
            return "TimeOut";
        case Status::Cancelled:
            return "Cancelled";
    }
    return "?";
}

bool is_final(Status s) {
    return s != Status::Pending && s != Status::InProgress;
}

const std::string* PlannedCommand::param(std::string_view key) const {
    for (const auto& [k, v] : params)
        if (k == key) return &v;
    return nullptr;
}

void plan_action(Action& a, const Machine& m, const SimConfig& c) {
    a.expires = a.created + c.queue_expiry;
    const double reach = std::max({a.created, m.online_at, m.busy_until}) + c.pickup_delay;
    if (!(reach < a.expires)) return;  // TimeOut at `expires`; commands stay Created
    a.run_start = reach;
    double t = reach;
    for (std::size_t i = 0; i < a.commands.size(); ++i) {
        auto& cmd = a.commands[i];
        cmd.start = t;
        const std::uint64_t h = hash_of(c.seed, a.id, i);
        switch (cmd.type) {
            case CommandType::PutFile:
                cmd.end = t + c.putfile_duration;
                break;
            case CommandType::GetFile:
                cmd.end = t + c.getfile_duration;
                break;
            case CommandType::RunScript: {
                const double u = unit_double(h);
                cmd.exit_code = (h % 20 == 7) ? 1 : 0;
                if (u < c.runscript_fail_fraction) {
                    cmd.outcome = Outcome::failed;
                    cmd.end = t + std::min(c.runscript_duration, c.runscript_timeout);
                } else if (u < c.runscript_fail_fraction + c.runscript_hang_fraction ||
                           c.runscript_duration >= c.runscript_timeout) {
                    cmd.outcome = Outcome::timed_out;
                    cmd.end = t + c.runscript_timeout;
                } else {
                    cmd.end = t + c.runscript_duration;
                }
                break;
            }
        }
        t = cmd.end;
        if (cmd.outcome != Outcome::completed) {
            a.fails = true;
            break;  // the following commands never run
        }
    }
    a.end = t;
}

Status status_at(const Action& a, double t) {
    if (a.cancelled_at && t >= *a.cancelled_at) return Status::Cancelled;
    if (a.run_start == kNever) return t >= a.expires ? Status::TimeOut : Status::Pending;
    if (t < a.run_start) return Status::Pending;
    if (t < a.end) return Status::InProgress;
    return a.fails ? Status::Failed : Status::Succeeded;
}

CommandStatus command_status_at(const Action& a, std::size_t index, double t) {
    const auto& cmd = a.commands[index];
    const bool cut = a.cancelled_at && t >= *a.cancelled_at;
    const double seen = cut ? *a.cancelled_at : t;
    if (cmd.end <= seen)
        return cmd.outcome == Outcome::completed ? CommandStatus::Completed : CommandStatus::Failed;
    if (cut && cmd.start <= seen) return CommandStatus::Failed;  // killed by the cancel
    return CommandStatus::Created;
}

double final_time(const Action& a) {
    const double natural = a.run_start == kNever ? a.expires : a.end;
    return a.cancelled_at ? std::min(*a.cancelled_at, natural) : natural;
}

std::vector<Transition> transitions(const Action& a) {
    std::vector<Transition> out{{a.created, Status::Pending}};
    const double cut = a.cancelled_at.value_or(kNever);
    if (a.run_start != kNever && a.run_start < cut)
        out.push_back({a.run_start, Status::InProgress});
    if (a.cancelled_at && *a.cancelled_at < (a.run_start == kNever ? a.expires : a.end)) {
        out.push_back({*a.cancelled_at, Status::Cancelled});
    } else if (a.run_start == kNever) {
        out.push_back({a.expires, Status::TimeOut});
    } else {
        out.push_back({a.end, a.fails ? Status::Failed : Status::Succeeded});
    }
    return out;
}

nlohmann::json action_json(const Action& a, double t, Ticks start, bool creation_answer) {
    // The creation answer shows the action as the API documents it (seed):
    // Pending, every command Created, no start or end, even when its machine
    // picks it up at once; any read after it sees the plan.
    const Status status = creation_answer ? Status::Pending : status_at(a, t);
    const bool cut = !creation_answer && a.cancelled_at && t >= *a.cancelled_at;
    const double seen = creation_answer ? -kNever : cut ? *a.cancelled_at : t;
    double last = a.created;
    auto touch = [&](double when) {
        if (when <= seen && when != kNever) last = std::max(last, when);
    };
    touch(a.run_start);
    if (status == Status::TimeOut) last = std::max(last, a.expires);
    if (cut) last = std::max(last, *a.cancelled_at);

    nlohmann::json commands = nlohmann::json::array();
    for (std::size_t i = 0; i < a.commands.size(); ++i) {
        const auto& cmd = a.commands[i];
        touch(cmd.start);
        touch(cmd.end);
        const CommandStatus cs =
            creation_answer ? CommandStatus::Created : command_status_at(a, i, t);
        nlohmann::json errors = nlohmann::json::array();
        nlohmann::json end_time = time_or_null(start, cmd.end, seen);
        if (cs == CommandStatus::Failed && cmd.end > seen) {
            errors.push_back("The action was cancelled while the command ran");
            end_time = iso_time(ticks_at(start, *a.cancelled_at));
        } else if (cs == CommandStatus::Failed && cmd.outcome == Outcome::timed_out) {
            errors.push_back("The script timed out");
        } else if (cs == CommandStatus::Failed) {
            errors.push_back("The script failed");
        }
        nlohmann::json params = nlohmann::json::array();
        for (const auto& [k, v] : cmd.params)
            params.push_back({{"key", k}, {"value", v}});
        commands.push_back(
            {{"index", i},
             {"startTime", time_or_null(start, cmd.start, seen)},
             {"endTime", end_time},
             {"commandStatus", cs == CommandStatus::Created     ? "Created"
                               : cs == CommandStatus::Completed ? "Completed"
                                                                : "Failed"},
             {"errors", errors},
             {"command", {{"type", command_type_name(cmd.type)}, {"params", params}}}});
    }
    const std::string last_iso = iso_time(ticks_at(start, last));
    return {{"id", a.id},
            {"type", "LiveResponse"},
            {"scope", nullptr},
            {"requestor", a.requestor},
            {"externalId", nullptr},
            {"requestSource", "PublicApi"},
            {"requestorComment", a.comment ? nlohmann::json(*a.comment) : nlohmann::json(nullptr)},
            {"status", status_name(status)},
            {"machineId", a.machine_id},
            {"computerDnsName", a.computer_dns_name},
            {"creationDateTimeUtc", iso_time(ticks_at(start, a.created))},
            {"lastUpdateDateTimeUtc", last_iso},
            {"lastUpdateTimeUtc", last_iso},  // the spelling of the list page's examples
            {"cancellationRequestor", cut ? nlohmann::json(a.cancellation_requestor) : nullptr},
            {"cancellationComment", cut ? nlohmann::json(a.cancellation_comment) : nullptr},
            {"cancellationDateTimeUtc",
             cut ? nlohmann::json(iso_time(ticks_at(start, *a.cancelled_at))) : nullptr},
            {"errorHResult", 0},
            {"title", nullptr},
            {"troubleshootInfo", nullptr},
            {"relatedFileInfo", nullptr},
            {"commands", commands}};
}

}  // namespace lrsched::sim
