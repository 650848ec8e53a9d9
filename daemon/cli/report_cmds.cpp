// `lrsched status [JOB] [--json]` and `lrsched sessions JOB [--state S]
// [--json]`: find the database through the configuration's state_dir, take
// one report from store::Report, print it as text for people or as JSON for
// scripts (the JSON shapes are a contract: README, "Following a sweep").
// Nothing here reads a secret; times are printed in UTC, ISO 8601. The ETA
// of an unfinished run and both JSON documents are the read model's
// (view/overview.hpp); this file prints them.
#include "cli/report_cmds.hpp"

#include "common/clock.hpp"
#include "common/duration.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "dispatch/estimate.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"
#include "view/overview.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
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

// ---- status ----

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

void print_job(const JobReport& job, const view::Eta& eta) {
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

    std::optional<std::string_view> job;
    if (!args.positional.empty()) job = args.positional.front();
    auto overview = view::read_overview(report, cfg, job, unix_now());
    if (!overview) return report_failed(overview.error(), "status");
    const store::StatusReport* status = &overview->status;
    const std::vector<view::Eta>& etas = overview->etas;
    if (args.json) {
        std::fputs(dump(view::to_json(*overview)).c_str(), stdout);
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
        std::fputs(dump(view::to_json(*listed)).c_str(), stdout);
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
