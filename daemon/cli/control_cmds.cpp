// The client commands of SPEC §6 over the control socket (control_cmds.hpp).
// Every failure is one line on stderr, "lrsched CMD: ...", and an exit
// status: 1 for what the operator asked wrongly (a 4xx answer), 2 when the
// daemon cannot be reached or fails itself (a 5xx). Whatever the daemon
// answers is printed without control characters in the one-line messages:
// the socket's other end is trusted to be the daemon, not to be tidy.
#include "cli/control_cmds.hpp"

#include "cli/plan.hpp"
#include "common/text.hpp"
#include "control/client.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <string>

namespace lrsched::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMessageWidth = 500;

std::string one_line(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, kMessageWidth))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (text.size() > kMessageWidth) out += "...";
    return out;
}

// The configuration, or nullopt after printing its diagnostics.
std::optional<config::Config> load(const Args& args) {
    Diagnostics diags;
    auto cfg = config::load_config(args.config.value_or(config::kDefaultConfigPath), diags);
    std::fputs(diags.to_string().c_str(), stderr);
    return cfg;
}

int unreachable(const char* cmd, const config::Config& cfg, const Error& e) {
    std::fprintf(stderr, "lrsched %s: daemon unreachable at %s: %s\n", cmd,
                 cfg.control.socket.c_str(), one_line(e.message).c_str());
    return kExitUnreachable;
}

// A JSON body's member `key` as a string, if it has one.
std::optional<std::string> member(const std::string& body, const char* key) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

// A non-2xx answer: its {"error": ...} on one line, and the exit status. A
// 403 on the socket is its peer check refusing this user: for them the
// daemon cannot be reached, as when the socket's mode refuses them.
int failed(const char* cmd, const HttpResponse& r) {
    const std::string why =
        member(r.body, "error").value_or("the daemon answered HTTP " + std::to_string(r.status));
    std::fprintf(stderr, "lrsched %s: %s\n", cmd, one_line(why).c_str());
    return r.status >= 500 || r.status < 200 || r.status == 403 ? kExitUnreachable : kExitUserError;
}

bool ok(const HttpResponse& r) {
    return r.status >= 200 && r.status < 300;
}

std::string usage(const std::string& cmd) {
    if (cmd == "reload") return "usage: lrsched reload [-c FILE]";
    if (cmd == "cancel") return "usage: lrsched cancel JOB [--machine ID] [--json] [-c FILE]";
    return "usage: lrsched " + cmd + " JOB [--json] [-c FILE]";
}

}  // namespace

std::string url_escape(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0xF];
        }
    }
    return out;
}

std::optional<int> read_from_daemon(const config::Config& cfg,
                                    const char* cmd,
                                    const std::string& target) {
    auto answer = control::request(cfg.control.socket, "GET", target);
    if (!answer && answer.error().code == Errc::connect_failed) return std::nullopt;
    if (!answer) return unreachable(cmd, cfg, answer.error());
    if (!ok(*answer)) return failed(cmd, *answer);
    std::fputs(answer->body.c_str(), stdout);
    return kExitOk;
}

int cmd_control(const Args& args) {
    const std::string& cmd = args.command;
    const bool reload = cmd == "reload";
    if (args.positional.size() != (reload ? 0u : 1u) || args.state ||
        (args.machine && cmd != "cancel")) {
        std::fprintf(stderr, "%s\n", usage(cmd).c_str());
        return kExitUserError;
    }
    const auto cfg = load(args);
    if (!cfg) return kExitUserError;
    std::string target = "/v1/reload";
    if (!reload) {
        target = "/v1/jobs/" + url_escape(args.positional.front()) + "/" + cmd;
        if (args.machine) target += "?machine=" + url_escape(*args.machine);
    }
    auto answer = control::request(cfg->control.socket, "POST", target);
    if (!answer) return unreachable(cmd.c_str(), *cfg, answer.error());
    if (!ok(*answer)) return failed(cmd.c_str(), *answer);
    if (args.json) {
        std::fputs(answer->body.c_str(), stdout);
    } else {
        const auto message = member(answer->body, "message");
        std::printf("%s\n", one_line(message.value_or("done")).c_str());
    }
    return kExitOk;
}

int cmd_plan(const Args& args) {
    if (args.positional.size() != 1 || args.state || args.machine) {
        std::fputs("usage: lrsched plan JOB [--json] [-c FILE]\n", stderr);
        return kExitUserError;
    }
    const std::string config_path = args.config.value_or(config::kDefaultConfigPath);
    const std::string& job = args.positional.front();
    // A job file (not a name the daemon knows) is planned here, as before.
    if (!is_name(job)) return run_plan(config_path, job);
    const auto cfg = load(args);
    if (!cfg) return kExitUserError;
    const std::string target =
        "/v1/jobs/" + url_escape(job) + "/plan" + (args.json ? "" : "?format=text");
    if (const auto done = read_from_daemon(*cfg, "plan", target)) return *done;
    std::fprintf(stderr, "lrsched plan: daemon not running at %s; asking the API directly\n",
                 cfg->control.socket.c_str());
    return run_plan(config_path, job);
}

}  // namespace lrsched::cli
