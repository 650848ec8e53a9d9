// `lrsched status [JOB] [--json]` and `lrsched sessions JOB [--state S]
// [--json]`: ask the running daemon over the control socket and print its
// answer; with no daemon, say so, find the database through the
// configuration's state_dir, take one report from store::Report and print
// it as text for people (view/status_text.hpp) or as JSON for scripts (the
// JSON shapes are a contract: README, "Following a sweep"). Both paths print
// the same text and JSON. Nothing here reads a secret; times are printed in
// UTC, ISO 8601.
#include "cli/report_cmds.hpp"

#include "cli/control_cmds.hpp"
#include "common/clock.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"
#include "view/overview.hpp"
#include "view/status_text.hpp"

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

// ---- formatting ----

std::string dump(const json& j) {
    // replace: a server's message is not always valid UTF-8, and dump must not throw.
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// ---- loading ----

struct Loaded {
    config::Config cfg;
    store::Report report;
};

// The daemon's answer to `target` when it runs (the exit status, after
// printing it); with no daemon, the configuration and the store it points
// at, after saying so; or the exit status after saying why neither.
std::variant<Loaded, int> load(const Args& args, const char* cmd, const std::string& target) {
    const std::string path = args.config.value_or(config::kDefaultConfigPath);
    Diagnostics diags;
    auto cfg = config::load_config(path, diags);
    std::fputs(diags.to_string().c_str(), stderr);
    if (!cfg) return kExitUserError;
    if (const auto answered = read_from_daemon(*cfg, cmd, target)) return *answered;
    std::fprintf(stderr, "lrsched %s: daemon not running at %s; read from the store\n", cmd,
                 cfg->control.socket.c_str());
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
    std::string target = "/v1/status";
    const char* sep = "?";
    if (!args.positional.empty()) {
        target += "?job=" + url_escape(args.positional.front());
        sep = "&";
    }
    if (!args.json) target += std::string(sep) + "format=text";
    auto loaded = load(args, "status", target);
    if (const int* exit_status = std::get_if<int>(&loaded)) return *exit_status;
    auto& [cfg, report] = std::get<Loaded>(loaded);

    std::optional<std::string_view> job;
    if (!args.positional.empty()) job = args.positional.front();
    auto overview = view::read_overview(report, cfg, job, unix_now());
    if (!overview) return report_failed(overview.error(), "status");
    const std::string out =
        args.json ? dump(view::to_json(*overview)) : view::status_text(*overview, cfg);
    std::fputs(out.c_str(), stdout);
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
    std::string target = "/v1/sessions?job=" + url_escape(args.positional.front());
    if (filter) target += "&state=" + std::string(to_string(*filter));
    if (!args.json) target += "&format=text";
    auto loaded = load(args, "sessions", target);
    if (const int* exit_status = std::get_if<int>(&loaded)) return *exit_status;
    auto& report = std::get<Loaded>(loaded).report;

    auto listed = report.sessions(args.positional.front(), filter);
    if (!listed) return report_failed(listed.error(), "sessions");
    const std::string out = args.json ? dump(view::to_json(*listed)) : view::sessions_text(*listed);
    std::fputs(out.c_str(), stdout);
    return 0;
}

}  // namespace lrsched::cli
