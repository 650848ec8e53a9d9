#include "jobs/job.hpp"

#include "common/url.hpp"

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
    // Frozen with its query string: the closer posts to the run's frozen
    // copy. Whoever shows a definition must pass the URL through
    // webhook_display().
    out["on_finish"] = job.on_finish ? nlohmann::json{{"command", job.on_finish->command},
                                                      {"webhook", job.on_finish->webhook},
                                                      {"diff", job.on_finish->diff}}
                                     : nlohmann::json(nullptr);
    const auto or_null = [](const auto& v) {
        return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    out["evidence"] = {
        {"keep_runs", or_null(job.evidence.keep_runs)},
        {"keep_for_ms", job.evidence.keep_for ? nlohmann::json(job.evidence.keep_for->count())
                                              : nlohmann::json(nullptr)}};
    return out;
}

Result<std::optional<OnFinish>> on_finish_of(const nlohmann::json& definition) {
    if (!definition.is_object() || !definition.contains("on_finish") ||
        definition["on_finish"].is_null())
        return std::optional<OnFinish>{};
    const nlohmann::json& j = definition["on_finish"];
    try {
        OnFinish f;
        f.command = j.value("command", std::vector<std::string>{});
        f.webhook = j.value("webhook", std::string{});
        f.diff = j.value("diff", false);
        if (f.command.empty() && f.webhook.empty())
            return Error{Errc::invalid_input, "definition: on_finish: neither command nor webhook"};
        return std::optional<OnFinish>{std::move(f)};
    } catch (const nlohmann::json::exception&) {
        // e.what() could quote the value, which may be the webhook's URL.
        return Error{Errc::invalid_input, "definition: on_finish: wrong type"};
    }
}

Result<EvidenceKeep> evidence_keep_of(const nlohmann::json& definition) {
    EvidenceKeep k;
    if (!definition.is_object() || !definition.contains("evidence") ||
        definition["evidence"].is_null())
        return k;
    const nlohmann::json& j = definition["evidence"];
    const auto positive = [&](const char* key) -> Result<std::optional<std::int64_t>> {
        if (!j.contains(key) || j[key].is_null()) return std::optional<std::int64_t>{};
        if (!j[key].is_number_integer() || j[key].get<std::int64_t>() < 1)
            return Error{Errc::invalid_input,
                         std::string("definition: evidence.") + key + ": not a positive integer"};
        return std::optional<std::int64_t>{j[key].get<std::int64_t>()};
    };
    if (!j.is_object()) return Error{Errc::invalid_input, "definition: evidence: not an object"};
    auto runs = positive("keep_runs");
    if (!runs) return runs.error();
    auto ms = positive("keep_for_ms");
    if (!ms) return ms.error();
    k.keep_runs = *runs;
    if (*ms) k.keep_for = Duration(**ms);
    return k;
}

std::string webhook_display(std::string_view url) {
    return url_for_display(url);
}

}  // namespace lrsched::jobs
