// `lrsched status [JOB] [--json]` and `lrsched sessions JOB [--state S]
// [--json]`: find the database through the configuration's state_dir, take
// one report from store::Report, print it as text for people or as JSON for
// scripts (the JSON shapes are a contract: README, "Following a sweep").
// Nothing here reads a secret; times are printed in UTC, ISO 8601. The ETA
// of an unfinished run is dispatch::estimate_run's, from the figures the
// report read.
#include "cli/report_cmds.hpp"

#include "common/duration.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "dispatch/estimate.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lrsched::cli {
namespace {

using nlohmann::json;
using sessions::SessionState;
using store::JobReport;
using store::RunReport;
using store::SessionRow;
using store::TenantReport;

constexpr int kExitUserError = 1;
constexpr int kExitUnreachable = 2;
constexpr std::size_t kErrorWidth = 80;  // text mode only; JSON keeps the whole message

// ---- formatting ----

json json_time(const std::optional<std::int64_t>& ms) {
    return ms ? json(utc_iso8601(*ms, TimePrecision::milliseconds)) : json(nullptr);
}

template <typename T>
json json_opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

// One line of text, whatever the server or a file put in it: control
// characters become spaces, and past `width` bytes it is cut (never inside
// a UTF-8 sequence) and marked.
std::string one_line(std::string_view text, std::size_t width) {
    std::string out;
    for (const char c : text)
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (out.size() <= width) return out;
    std::size_t cut = width;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
        --cut;
    return out.substr(0, cut) + "...";
}

std::string text_or(const std::optional<std::string>& v, const char* none) {
    return v ? one_line(*v, kErrorWidth) : none;
}

std::string dump(const json& j) {
    // replace: a server's message is not always valid UTF-8, and dump must not throw.
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// ---- loading ----

struct Loaded {
    config::Config cfg;
    store::Report report;
};

// The configuration and the store it points at, or the exit status after
// saying why not.
std::variant<Loaded, int> load(const Args& args, const char* cmd) {
    const std::string path = args.config.value_or(config::kDefaultConfigPath);
    Diagnostics diags;
    auto cfg = config::load_config(path, diags);
    std::fputs(diags.to_string().c_str(), stderr);
    if (!cfg) return kExitUserError;
    auto report = store::Report::open(store::database_path(cfg->state_dir));
    if (!report) {
        std::fprintf(stderr, "lrsched %s: %s\n", cmd, report.error().message.c_str());
        return kExitUnreachable;
    }
    return Loaded{std::move(*cfg), std::move(*report)};
}

// A report's failure: an unknown job is the operator's; anything else is
// the store's.
int report_failed(const Error& e, const char* cmd) {
    std::fprintf(stderr, "lrsched %s: %s\n", cmd, e.message.c_str());
    return e.code == Errc::not_found ? kExitUserError : kExitUnreachable;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---- status ----

// The estimated end of a job's latest run, and the status line saying it.
struct Eta {
    std::optional<std::int64_t> at;  // none: finished, paused, or unknown
    std::optional<std::string> source;
    std::string text;
};

json run_json(const RunReport& run, const Eta& eta) {
    json counts = json::object();
    for (const auto& [state, n] : run.counts)
        counts[std::string(to_string(state))] = n;
    json unresolved = nullptr;
    if (run.unresolved) {
        unresolved = json::parse(*run.unresolved, nullptr, false);
        if (unresolved.is_discarded()) unresolved = *run.unresolved;
    }
    return {{"id", run.id},
            {"trigger", to_string(run.trigger)},
            {"created_at", utc_iso8601(run.created_at, TimePrecision::milliseconds)},
            {"finished_at", json_time(run.finished_at)},
            {"deadline_at", json_time(run.deadline_at)},
            {"sessions", std::move(counts)},
            {"total", run.total()},
            {"finished", run.finished()},
            {"unresolved", std::move(unresolved)},
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

std::string state_counts_text(const RunReport& run) {
    std::string out;
    for (const auto& [state, n] : run.counts) {
        if (n == 0) continue;
        out += (out.empty() ? "" : ", ") + std::string(to_string(state)) + " " + std::to_string(n);
    }
    return out.empty() ? "no sessions" : out;
}

// The machines a run named but the API did not list ({"ids": [...],
// "hostnames": [...]}), as "2 machine id(s), 1 host name(s)"; empty if none.
std::string unresolved_text(const RunReport& run) {
    if (!run.unresolved) return {};
    const json j = json::parse(*run.unresolved, nullptr, false);
    if (!j.is_object()) return {};
    std::string out;
    for (const auto& [key, what] :
         {std::pair{"ids", " machine id(s)"}, {"hostnames", " host name(s)"}}) {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_array() || it->empty()) continue;
        out += (out.empty() ? "" : ", ") + std::to_string(it->size()) + what;
    }
    return out;
}

void print_job(const JobReport& job, const Eta& eta) {
    const std::string deleted =
        job.deleted_at ? " - job file deleted " + utc_iso8601(*job.deleted_at) : "";
    const std::string paused =
        job.paused ? "yes: " + text_or(job.paused_reason, "no reason given") : "no";
    const std::string error = job.last_error ? utc_iso8601(job.last_error_at.value_or(0)) + " " +
                                                   one_line(*job.last_error, kErrorWidth)
                                             : "none";
    const std::string tenant =
        job.tenant.empty() ? "tenant unknown: never loaded" : "tenant " + job.tenant;
    std::printf("job %s (%s)%s\n", job.name.c_str(), tenant.c_str(), deleted.c_str());
    std::printf("  paused: %s\n  last error: %s\n", paused.c_str(), error.c_str());
    if (!job.latest_run) {
        std::puts("  latest run: none yet");
        return;
    }
    const RunReport& run = *job.latest_run;
    const std::string finished =
        run.finished_at ? ", finished " + utc_iso8601(*run.finished_at) : "";
    std::printf("  latest run: %lld (%s), created %s%s\n", static_cast<long long>(run.id),
                std::string(to_string(run.trigger)).c_str(), utc_iso8601(run.created_at).c_str(),
                finished.c_str());
    std::printf("  progress: %lld of %lld sessions finished\n",
                static_cast<long long>(run.finished()), static_cast<long long>(run.total()));
    std::printf("  states: %s\n", state_counts_text(run).c_str());
    if (const std::string missing = unresolved_text(run); !missing.empty()) {
        std::printf("  not listed by the API: %s\n", missing.c_str());
    }
    if (!run.finished_at) std::printf("  eta: %s\n", eta.text.c_str());
}

void print_tenant(const TenantReport& t, const config::Config& cfg, std::int64_t now) {
    const config::Tenant* configured = cfg.find_tenant(t.name);
    const std::string limit =
        configured ? " (limit " + std::to_string(configured->limits.submit_rate.calls) + " per " +
                         format_duration(configured->limits.submit_rate.per) + ")"
                   : " (not configured)";
    std::printf(
        "tenant %s: %lld submit call(s) in the last minute%s, %lld read call(s); "
        "running %lld, pending %lld, submitting %lld",
        t.name.c_str(), static_cast<long long>(t.submit_calls_last_minute), limit.c_str(),
        static_cast<long long>(t.read_calls_last_minute), static_cast<long long>(t.running),
        static_cast<long long>(t.pending), static_cast<long long>(t.submitting));
    if (t.paused) std::printf("; paused: %s", text_or(t.paused_reason, "no reason given").c_str());
    if (t.throttled_until && *t.throttled_until > now) {
        std::printf("; throttled until %s", utc_iso8601(*t.throttled_until).c_str());
    }
    if (t.last_error)
        std::printf("; no answer since %s: %s",
                    utc_iso8601(t.last_error_since.value_or(now)).c_str(),
                    one_line(*t.last_error, kErrorWidth).c_str());
    std::puts("");
}

// ---- sessions ----

json session_json(const SessionRow& s) {
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

// Columns padded to `widths` (negative: right-aligned), two spaces apart,
// with no trailing white space.
std::string columns(const std::vector<std::string>& cells, const std::vector<int>& widths) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const int w = i < widths.size() ? widths[i] : 0;
        const auto width = static_cast<std::size_t>(w < 0 ? -w : w);
        const std::string fill(cells[i].size() < width ? width - cells[i].size() : 0, ' ');
        line += (i ? "  " : "") + (w < 0 ? fill + cells[i] : cells[i] + fill);
    }
    return line.substr(0, line.find_last_not_of(' ') + 1);
}

const std::vector<int> kSessionWidths{32, 40, 10, -7, 36, -4};

void print_session(const SessionRow& s) {
    const std::string line = columns(
        {one_line(s.computer_dns_name.value_or(s.machine_id), 253), one_line(s.machine_id, 64),
         std::string(to_string(s.state)), std::to_string(s.attempt), text_or(s.action_id, "-"),
         s.exit_code ? std::to_string(*s.exit_code) : "-", text_or(s.last_error, "")},
        kSessionWidths);
    std::puts(line.c_str());
}

std::string state_names() {
    std::string out;
    for (const SessionState s : sessions::kAllStates)
        out += (out.empty() ? "" : ", ") + std::string(to_string(s));
    return out;
}

}  // namespace

int cmd_status(const Args& args) {
    if (args.positional.size() > 1 || args.state || args.machine) {
        std::fputs("usage: lrsched status [JOB] [--json] [-c FILE]\n", stderr);
        return kExitUserError;
    }
    auto loaded = load(args, "status");
    if (const int* exit_status = std::get_if<int>(&loaded)) return *exit_status;
    auto& [cfg, report] = std::get<Loaded>(loaded);

    std::vector<std::string> tenants;
    for (const config::Tenant& t : cfg.tenants)
        tenants.push_back(t.name);
    std::optional<std::string_view> job;
    if (!args.positional.empty()) job = args.positional.front();
    auto status = report.status(tenants, job, now_ms());
    if (!status) return report_failed(status.error(), "status");

    std::vector<Eta> etas;
    for (const JobReport& j : status->jobs) {
        const auto tenant =
            std::find_if(status->tenants.begin(), status->tenants.end(),
                         [&j](const TenantReport& t) { return t.name == j.tenant; });
        const bool tenant_paused = tenant != status->tenants.end() && tenant->paused;
        const bool unfinished = j.latest_run && !j.latest_run->finished_at;
        etas.push_back(unfinished ? run_eta(j, *j.latest_run, cfg, tenant_paused, status->now)
                                  : Eta{});
    }
    if (args.json) {
        std::fputs(dump(status_json(*status, etas)).c_str(), stdout);
        return 0;
    }
    if (status->jobs.empty()) std::puts("no jobs yet");
    for (std::size_t i = 0; i < status->jobs.size(); ++i) {
        print_job(status->jobs[i], etas[i]);
        std::puts("");
    }
    for (const TenantReport& t : status->tenants)
        print_tenant(t, cfg, status->now);
    return 0;
}

int cmd_sessions(const Args& args) {
    if (args.positional.size() != 1 || args.machine) {
        std::fputs("usage: lrsched sessions JOB [--state S] [--json] [-c FILE]\n", stderr);
        return kExitUserError;
    }
    std::optional<SessionState> filter;
    if (args.state) {
        filter = sessions::parse_state(*args.state);
        if (!filter) {
            std::fprintf(stderr, "lrsched sessions: unknown state '%s' (states: %s)\n",
                         args.state->c_str(), state_names().c_str());
            return kExitUserError;
        }
    }
    auto loaded = load(args, "sessions");
    if (const int* exit_status = std::get_if<int>(&loaded)) return *exit_status;
    auto& report = std::get<Loaded>(loaded).report;

    auto listed = report.sessions(args.positional.front(), filter);
    if (!listed) return report_failed(listed.error(), "sessions");
    const auto& run = listed->job.latest_run;
    if (args.json) {
        json rows = json::array();
        for (const SessionRow& s : listed->sessions)
            rows.push_back(session_json(s));
        const json out = {{"job", listed->job.name},
                          {"run", run ? json(run->id) : json(nullptr)},
                          {"sessions", std::move(rows)}};
        std::fputs(dump(out).c_str(), stdout);
        return 0;
    }
    if (!run) {
        std::printf("job %s has not run yet\n", listed->job.name.c_str());
        return 0;
    }
    std::puts(columns({"MACHINE", "MACHINE ID", "STATE", "ATTEMPT", "ACTION", "EXIT", "LAST ERROR"},
                      kSessionWidths)
                  .c_str());
    for (const SessionRow& s : listed->sessions)
        print_session(s);
    return 0;
}

}  // namespace lrsched::cli
