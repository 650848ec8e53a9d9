#include "jobs/job.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace lrsched::jobs {

namespace {

nlohmann::json selectors_json(const Selectors& s) {
    return {{"machines", s.machines},
            {"hostnames", s.hostnames},
            {"tags", s.tags},
            {"groups", s.groups}};
}

}  // namespace

nlohmann::json to_json(const Job& job) {
    nlohmann::json commands = nlohmann::json::array();
    for (const auto& c : job.commands) {
        nlohmann::json cmd = {{"type", to_string(c.type)}, {"param", c.param}};
        if (c.args) cmd["args"] = *c.args;
        commands.push_back(std::move(cmd));
    }
    nlohmann::json schedule = {
        {"timezone", job.schedule.tz == TimeZone::utc ? "utc" : "local"},
        {"overlap", job.schedule.overlap == Overlap::skip ? "skip" : "queue"},
        {"catch_up", job.schedule.catch_up},
    };
    if (job.schedule.cron) schedule["cron"] = job.schedule.cron->text();
    if (job.schedule.window) {
        const auto hhmm = [](int minute) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
            return std::string(buf);
        };
        schedule["window"] = hhmm(job.schedule.window->start_minute()) + "-" +
                             hhmm(job.schedule.window->end_minute());
    }
    nlohmann::json out = {
        {"name", job.name},
        {"description", job.description},
        {"tenant", job.tenant},
        {"targets",
         {{"include", selectors_json(job.targets.include)},
          {"os", job.targets.os},
          {"from_file", job.targets.from_file},
          {"exclude", selectors_json(job.targets.exclude)}}},
        {"commands", std::move(commands)},
        {"comment", job.comment},
        {"schedule", std::move(schedule)},
        {"priority", job.priority},
        {"retry",
         {{"busy_every_ms", job.retry.busy_every.count()},
          {"failed", job.retry.failed},
          {"expired", job.retry.expired}}},
    };
    out["deadline_ms"] =
        job.deadline ? nlohmann::json(job.deadline->count()) : nlohmann::json(nullptr);
    return out;
}

}  // namespace lrsched::jobs
