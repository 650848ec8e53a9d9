#include "dispatch/run_plan.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace lrsched::dispatch {
namespace {

using nlohmann::json;

std::optional<jobs::CommandType> command_type(std::string_view name) {
    for (const auto t :
         {jobs::CommandType::PutFile, jobs::CommandType::RunScript, jobs::CommandType::GetFile})
        if (jobs::to_string(t) == name) return t;
    return std::nullopt;
}

jobs::Selectors selectors(const json& j) {
    jobs::Selectors s;
    s.machines = j.value("machines", std::vector<std::string>{});
    s.hostnames = j.value("hostnames", std::vector<std::string>{});
    s.tags = j.value("tags", std::vector<std::string>{});
    s.groups = j.value("groups", std::vector<std::string>{});
    return s;
}

// The parse proper; nlohmann throws on a wrong type, caught by the caller.
Result<RunPlan> read_plan(std::int64_t run_id, const json& d) {
    const std::string who = "run " + std::to_string(run_id) + ": definition: ";
    RunPlan p;
    p.run_id = run_id;
    p.job = d.at("name").get<std::string>();
    p.tenant = d.at("tenant").get<std::string>();
    for (const auto& c : d.at("commands")) {
        const auto type = command_type(c.at("type").get<std::string>());
        if (!type) return Error{Errc::invalid_input, who + "commands: unknown type"};
        jobs::Command cmd{*type, c.at("param").get<std::string>(), std::nullopt};
        if (c.contains("args")) cmd.args = c["args"].get<std::string>();
        p.commands.push_back(std::move(cmd));
    }
    if (p.commands.empty()) return Error{Errc::invalid_input, who + "commands: empty"};
    p.comment = d.value("comment", std::string{});
    p.priority = d.value("priority", policy::kDefaultPriority);
    const json& retry = d.at("retry");
    p.retry.busy_every = std::chrono::milliseconds(retry.at("busy_every_ms").get<std::int64_t>());
    p.retry.failed = retry.at("failed").get<int>();
    p.retry.expired = retry.at("expired").get<int>();
    const json& schedule = d.at("schedule");
    p.tz = schedule.value("timezone", std::string("utc")) == "local" ? jobs::TimeZone::local
                                                                     : jobs::TimeZone::utc;
    if (schedule.contains("window")) {
        jobs::ScheduleParseError err{};
        p.window = jobs::TimeWindow::parse(schedule["window"].get<std::string>(), &err);
        if (!p.window) return Error{Errc::invalid_input, who + "schedule.window: " + err.message};
    }
    const json& targets = d.at("targets");
    p.targets.include = selectors(targets.at("include"));
    p.targets.exclude = selectors(targets.at("exclude"));
    p.targets.os = targets.value("os", std::vector<std::string>{});
    p.targets.from_file = targets.value("from_file", std::string{});
    return p;
}

}  // namespace

bool RunPlan::window_open(std::int64_t now_ms, std::int64_t* opens_at) const {
    if (!window) return true;
    const jobs::TimePoint now{std::chrono::milliseconds(now_ms)};
    if (window->contains(now, tz)) return true;
    if (opens_at) {
        const auto next = window->next_open(now, tz);
        *opens_at =
            std::chrono::duration_cast<std::chrono::milliseconds>(next.time_since_epoch()).count();
    }
    return false;
}

int RunPlan::run_scripts() const {
    return static_cast<int>(std::count_if(commands.begin(), commands.end(), [](const auto& c) {
        return c.type == jobs::CommandType::RunScript;
    }));
}

Result<RunPlan> plan_from_definition(std::int64_t run_id, std::string_view definition) {
    const json d = json::parse(definition, nullptr, false);
    if (d.is_discarded() || !d.is_object())
        return Error{Errc::invalid_input,
                     "run " + std::to_string(run_id) + ": definition is not a JSON object"};
    try {
        return read_plan(run_id, d);
    } catch (const json::exception& e) {
        return Error{Errc::invalid_input,
                     "run " + std::to_string(run_id) + ": definition: " + e.what()};
    }
}

}  // namespace lrsched::dispatch
