#include "view/overview.hpp"

#include "common/duration.hpp"
#include "common/text.hpp"
#include "dispatch/estimate.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace lrsched::view {
namespace {

using nlohmann::json;
using sessions::SessionState;
using store::JobReport;
using store::RunReport;
using store::TenantReport;

json json_time(const std::optional<std::int64_t>& ms) {
    return ms ? json(utc_iso8601(*ms, TimePrecision::milliseconds)) : json(nullptr);
}

template <typename T>
json json_opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

json run_json(const RunReport& run, const Eta& eta) {
    json counts = json::object();
    for (const auto& [state, n] : run.counts)
        counts[std::string(to_string(state))] = n;
    json unresolved = nullptr;
    if (run.unresolved) {
        unresolved = json::parse(*run.unresolved, nullptr, false);
        if (unresolved.is_discarded()) unresolved = *run.unresolved;
    }
    json hooks = json::array();
    for (const auto& h : run.hooks)
        hooks.push_back({{"kind", h.kind},
                         {"ok", h.ok},
                         {"detail", h.detail},
                         {"at", utc_iso8601(h.at, TimePrecision::milliseconds)}});
    return {{"id", run.id},
            {"trigger", to_string(run.trigger)},
            {"created_at", utc_iso8601(run.created_at, TimePrecision::milliseconds)},
            {"finished_at", json_time(run.finished_at)},
            {"deadline_at", json_time(run.deadline_at)},
            {"sessions", std::move(counts)},
            {"total", run.total()},
            {"finished", run.finished()},
            {"unresolved", std::move(unresolved)},
            {"digest", json_opt(run.digest)},
            {"hooks", std::move(hooks)},
            {"eta", json_time(eta.at)},
            {"eta_source", json_opt(eta.source)}};
}

json job_json(const JobReport& job, const Eta& eta) {
    return {{"tenant", job.tenant},
            {"paused", job.paused},
            {"paused_reason", json_opt(job.paused_reason)},
            {"last_error", json_opt(job.last_error)},
            {"last_error_at", json_time(job.last_error_at)},
            {"deleted_at", json_time(job.deleted_at)},
            {"latest_run", job.latest_run ? run_json(*job.latest_run, eta) : json(nullptr)}};
}

json tenant_json(const TenantReport& t) {
    return {{"calls_last_minute", t.submit_calls_last_minute},
            {"read_calls_last_minute", t.read_calls_last_minute},
            {"running", t.running},
            {"pending", t.pending},
            {"submitting", t.submitting},
            {"paused", t.paused},
            {"paused_reason", json_opt(t.paused_reason)},
            {"throttled_until", json_time(t.throttled_until)},
            {"last_error", json_opt(t.last_error)},
            {"last_error_since", json_time(t.last_error_since)}};
}

json status_json(const store::StatusReport& r, const std::vector<Eta>& etas) {
    json jobs = json::object();
    for (std::size_t i = 0; i < r.jobs.size(); ++i)
        jobs[r.jobs[i].name] = job_json(r.jobs[i], etas[i]);
    json tenants = json::object();
    for (const TenantReport& t : r.tenants)
        tenants[t.name] = tenant_json(t);
    return {{"jobs", std::move(jobs)},
            {"tenants", std::move(tenants)},
            {"now", utc_iso8601(r.now, TimePrecision::milliseconds)}};
}

// Why the estimate says what it says: its source in a word and the figure,
// what is left to submit, and sessions running past the figure.
std::string eta_basis(const dispatch::Estimate& e,
                      const dispatch::SessionTimes& times,
                      const config::Rate& rate) {
    std::string out = std::string(dispatch::source_word(times.source)) + ": ";
    out += times.source == dispatch::TimesSource::assumed
               ? dispatch::approx_duration(times.online_ms) + " per session assumed"
               : "median " + dispatch::approx_duration(times.online_ms) + " per session";
    if (e.to_submit > 0)
        out += "; " + std::to_string(e.to_submit) + " to submit at " + std::to_string(rate.calls) +
               " per " + format_duration(rate.per);
    if (e.stalled > 0)
        out += "; " + std::to_string(e.stalled) + " pending past that, up to queue_expiry";
    if (e.overdue > 0 && e.duration > 0)
        out += "; " + std::to_string(e.overdue) + " past their estimate";
    return out;
}

// When the run should end (README, "Following a sweep"): what waits is
// submitted at the tenant's rate, then runs for the measured session time
// through the slots, offline-looking machines wait through their slots, busy
// ones come back after retry.busy_every. None while paused.
Eta run_eta(const JobReport& job,
            const RunReport& run,
            const config::Config& cfg,
            bool tenant_paused,
            std::int64_t now) {
    Eta eta;
    const std::int64_t waiting =
        run.counts.at(SessionState::queued) + run.counts.at(SessionState::busy);
    const std::string what = std::to_string(waiting) + " waiting session(s)";
    if (job.paused) return {{}, {}, "none while the job is paused (" + what + ")"};
    if (tenant_paused)
        return {{}, {}, "none while tenant " + job.tenant + " is paused (" + what + ")"};
    const config::Tenant* tenant = cfg.find_tenant(job.tenant);
    if (tenant == nullptr || tenant->limits.submit_rate.calls <= 0)
        return {{}, {}, "unknown: tenant " + job.tenant + " is not configured (" + what + ")"};

    const dispatch::SessionTimes times =
        dispatch::session_times(job.samples.value_or(store::SessionSamples{}));
    const dispatch::Estimate e = dispatch::estimate_run(dispatch::run_work(run, now), times,
                                                        dispatch::limits_of(tenant->limits), now);
    if (e.blocked == dispatch::Blocked::no_offline_slots) {
        return {{},
                {},
                "unknown: offline_slots is 0, so its offline-looking sessions are never "
                "submitted (" +
                    what + ")"};
    }
    eta.at = e.end_at;
    eta.source = dispatch::source_word(times.source);
    const std::string basis = eta_basis(e, times, tenant->limits.submit_rate);
    if (e.duration > 0) {
        // Seconds rounded up: a run 0.2 s from its end is "about 1s" away, not "0s".
        const std::string left = two_unit_duration((e.duration + 999) / 1000);
        eta.text = "about " + left + ", at " + utc_iso8601(e.end_at) + " (" + basis + ")";
    } else if (e.overdue > 0) {
        eta.text = "any moment now: " + std::to_string(e.overdue) +
                   " session(s) on the server past their estimate (" + basis + ")";
    } else {
        eta.text = "any moment now (" + basis + ")";
    }
    return eta;
}

// How the tenant proves itself: a secret (nothing more to say) or a
// certificate with its thumbprint, end and warning.
json credential_json(const TenantLive& t) {
    if (!t.certificate) return {{"kind", "secret"}};
    const CertificateLive& c = *t.certificate;
    return {{"kind", "certificate"},
            {"file", c.file},
            {"thumbprint", c.thumbprint},
            {"subject", c.subject},
            {"not_after", json_time(c.not_after)},
            {"warning", c.warning.empty() ? json(nullptr) : json(c.warning)}};
}

json live_json(const Live& l) {
    json tenants = json::object();
    for (const TenantLive& t : l.tenants)
        tenants[t.name] = {{"slots_held", t.slots_held},
                           {"slots_held_offline", t.slots_held_offline},
                           {"slot_limit", t.slot_limit},
                           {"offline_slots", t.offline_slots},
                           {"sessions_tracked", t.sessions_tracked},
                           {"runs", t.runs},
                           {"paused", t.paused},
                           {"reads", t.reads},
                           {"token_fetches", t.token_fetches},
                           {"unreachable", t.unreachable},
                           {"unreachable_since", json_time(t.unreachable_since)},
                           {"retry_at", json_time(t.retry_at)},
                           {"credential", credential_json(t)}};
    return {{"at", json_time(l.at)},
            {"started_at", json_time(l.started_at)},
            {"loops_running", l.loops_running},
            {"stopping", l.stopping},
            {"tenants", std::move(tenants)}};
}

json session_json(const store::SessionRow& s) {
    return {{"id", s.id},
            {"machine_id", s.machine_id},
            {"computer_dns_name", json_opt(s.computer_dns_name)},
            {"state", to_string(s.state)},
            {"attempt", s.attempt},
            {"submissions", s.submissions},
            {"action_id", json_opt(s.action_id)},
            {"exit_code", json_opt(s.exit_code)},
            {"created_at", utc_iso8601(s.created_at, TimePrecision::milliseconds)},
            {"updated_at", utc_iso8601(s.updated_at, TimePrecision::milliseconds)},
            {"not_before", json_time(s.not_before)},
            {"looks_offline", s.looks_offline},
            {"last_error", json_opt(s.last_error)}};
}

}  // namespace

Result<Overview> read_overview(store::Report& report,
                               const config::Config& cfg,
                               std::optional<std::string_view> job,
                               Millis now) {
    std::vector<std::string> tenants;
    for (const config::Tenant& t : cfg.tenants)
        tenants.push_back(t.name);
    auto status = report.status(tenants, job, now);
    if (!status) return std::move(status).error();
    Overview o;
    o.status = std::move(*status);
    for (const JobReport& j : o.status.jobs) {
        const auto tenant =
            std::find_if(o.status.tenants.begin(), o.status.tenants.end(),
                         [&j](const TenantReport& t) { return t.name == j.tenant; });
        const bool tenant_paused = tenant != o.status.tenants.end() && tenant->paused;
        const bool unfinished = j.latest_run && !j.latest_run->finished_at;
        o.etas.push_back(unfinished ? run_eta(j, *j.latest_run, cfg, tenant_paused, o.status.now)
                                    : Eta{});
    }
    return o;
}

json to_json(const Overview& o) {
    json out = status_json(o.status, o.etas);
    if (o.live) out["daemon"] = live_json(*o.live);
    return out;
}

json to_json(const store::SessionsReport& listed) {
    json rows = json::array();
    for (const store::SessionRow& s : listed.sessions)
        rows.push_back(session_json(s));
    const auto& run = listed.job.latest_run;
    return {{"job", listed.job.name},
            {"run", run ? json(run->id) : json(nullptr)},
            {"sessions", std::move(rows)}};
}

}  // namespace lrsched::view
