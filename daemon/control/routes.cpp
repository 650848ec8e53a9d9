// The control API's routes (routes.hpp): a request's target parsed and
// checked (percent escapes, job names, query keys each route knows), sent
// to the Backend, and its answer rendered as JSON (view/overview.hpp) or
// as the text `lrsched status` prints (view/status_text.hpp). Nothing from
// the request reaches the Backend unchecked, and every value from the
// request quoted in an error goes through quote_value(). Load: one call per
// client command or metrics scrape; a target is at most kMaxTarget bytes.
#include "control/routes.hpp"

#include "common/diagnostic.hpp"
#include "common/text.hpp"
#include "view/status_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

namespace lrsched::control {
namespace {

using nlohmann::json;

// Far above any target our clients send (a job name is at most 100 bytes):
// past it the request is refused before it is looked at.
constexpr std::size_t kMaxTarget = 2048;
constexpr std::size_t kMaxErrorBytes = 1000;
constexpr const char* kJsonType = "application/json";
constexpr const char* kTextType = "text/plain; charset=utf-8";

struct Target {
    std::vector<std::string> path;  // decoded segments; "/" is {""}
    std::vector<std::pair<std::string, std::string>> query;
};

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// `what` is the part being decoded, for the error message. A decoded control
// character (NUL included) is refused: no name or value we take has one.
Result<std::string> percent_decode(std::string_view s, bool plus_is_space, const char* what) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            const int h = i + 1 < s.size() ? hex_digit(s[i + 1]) : -1;
            const int l = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
            if (h < 0 || l < 0)
                return Error{Errc::invalid_input, std::string("bad percent escape in the ") + what +
                                                      ": " + quote_value(s.substr(i, 3))};
            c = static_cast<char>(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return Error{Errc::invalid_input,
                         std::string("control character in the ") + what + ": " + quote_value(s)};
        out += c;
    }
    return out;
}

Result<Target> parse_target(std::string_view raw) {
    if (raw.size() > kMaxTarget)
        return Error{Errc::invalid_input, "request target too long: " + std::to_string(raw.size()) +
                                              " bytes (at most " + std::to_string(kMaxTarget) +
                                              ")"};
    if (raw.empty() || raw.front() != '/')
        return Error{Errc::invalid_input,
                     "request target must start with '/': " + quote_value(raw)};
    if (raw.find('#') != std::string_view::npos)
        return Error{Errc::invalid_input, "request target has a fragment: " + quote_value(raw)};
    Target t;
    const std::size_t q = raw.find('?');
    const std::string_view path = raw.substr(1, q == std::string_view::npos ? raw.npos : q - 1);
    for (std::size_t start = 0;;) {
        const std::size_t slash = path.find('/', start);
        auto seg = percent_decode(path.substr(start, slash - start), false, "path");
        if (!seg) return std::move(seg).error();
        if (*seg == "." || *seg == "..")
            return Error{Errc::invalid_input, "path segment " + quote_value(*seg) + " refused"};
        t.path.push_back(std::move(*seg));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    if (q == std::string_view::npos) return t;
    std::string_view query = raw.substr(q + 1);
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true, "query");
        if (!key) return std::move(key).error();
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true, "query");
        if (!value) return std::move(value).error();
        const auto same = [&](const auto& kv) { return kv.first == *key; };
        if (std::any_of(t.query.begin(), t.query.end(), same))
            return Error{Errc::invalid_input,
                         "query parameter " + quote_value(*key) + " given twice"};
        t.query.emplace_back(std::move(*key), std::move(*value));
    }
    return t;
}

std::string dump(const json& j) {
    // replace: a server's message or a job's error is not always valid UTF-8,
    // and dump must not throw.
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

HttpResponse json_response(const json& j, int status = 200) {
    return {status, kJsonType, dump(j), {}};
}

HttpResponse text_response(std::string text) {
    return {200, kTextType, std::move(text), {}};
}

HttpResponse backend_error(const Error& e) {
    return error_response(status_for(e), e.message);
}

std::string state_names() {
    std::string out;
    for (const sessions::SessionState s : sessions::kAllStates)
        out += (out.empty() ? "" : ", ") + std::string(to_string(s));
    return out;
}

// The request's query parameters, checked against those the route knows.
class Query {
  public:
    explicit Query(const Target& t) : t_(t) {}

    // nullopt when every key is one of `known`; else the 400 to answer.
    std::optional<HttpResponse> unknown_keys(std::initializer_list<std::string_view> known) const {
        for (const auto& [key, value] : t_.query) {
            if (std::find(known.begin(), known.end(), key) == known.end())
                return error_response(400, "unknown query parameter " + quote_value(key));
        }
        return std::nullopt;
    }
    std::optional<std::string_view> get(std::string_view key) const {
        for (const auto& [k, v] : t_.query)
            if (k == key) return v;
        return std::nullopt;
    }

  private:
    const Target& t_;
};

// format=text or format=json (the default); anything else is a 400.
Result<bool> wants_text(const Query& q) {
    const auto f = q.get("format");
    if (!f || *f == "json") return false;
    if (*f == "text") return true;
    return Error{Errc::invalid_input,
                 "format must be \"json\" or \"text\", not " + quote_value(*f)};
}

std::optional<HttpResponse> check_job(std::string_view job) {
    if (is_name(job)) return std::nullopt;
    return error_response(400, "job name " + quote_value(job) +
                                   " is not valid: [a-z0-9][a-z0-9._-]*, at most 100 characters");
}

HttpResponse action_response(const Result<ActionOutcome>& done, bool with_counts) {
    if (!done) return backend_error(done.error());
    json j{{"message", done->message}};
    if (done->run) j["run"] = *done->run;
    if (with_counts) {
        j["cancelled"] = done->cancelled;
        j["on_server"] = done->on_server;
    }
    return json_response(j);
}

HttpResponse get_status(const Query& q, Backend& backend) {
    if (auto bad = q.unknown_keys({"job", "format"})) return *bad;
    const auto text = wants_text(q);
    if (!text) return error_response(400, text.error().message);
    const auto job = q.get("job");
    if (job)
        if (auto bad = check_job(*job)) return *bad;
    auto overview = backend.overview(job);
    if (!overview) return backend_error(overview.error());
    if (*text) return text_response(view::status_text(*overview, backend.config()));
    return json_response(view::to_json(*overview));
}

HttpResponse get_sessions(const Query& q, Backend& backend) {
    if (auto bad = q.unknown_keys({"job", "state", "format"})) return *bad;
    const auto text = wants_text(q);
    if (!text) return error_response(400, text.error().message);
    const auto job = q.get("job");
    if (!job) return error_response(400, "sessions needs a job: /v1/sessions?job=JOB");
    if (auto bad = check_job(*job)) return *bad;
    std::optional<sessions::SessionState> state;
    if (const auto name = q.get("state")) {
        state = sessions::parse_state(*name);
        if (!state)
            return error_response(
                400, "unknown state " + quote_value(*name) + " (states: " + state_names() + ")");
    }
    auto listed = backend.sessions(*job, state);
    if (!listed) return backend_error(listed.error());
    if (*text) return text_response(view::sessions_text(*listed));
    return json_response(view::to_json(*listed));
}

HttpResponse job_action(const std::string& job,
                        const std::string& verb,
                        const Query& q,
                        Backend& backend) {
    if (verb == "cancel") {
        if (auto bad = q.unknown_keys({"machine"})) return *bad;
        const auto machine = q.get("machine");
        if (machine && !is_machine_id(*machine))
            return error_response(400, "machine " + quote_value(*machine) +
                                           " is not a machine id (40 hexadecimal characters)");
        return action_response(backend.cancel(job, machine), true);
    }
    if (auto bad = q.unknown_keys({})) return *bad;
    if (verb == "run") return action_response(backend.run_now(job), false);
    return action_response(backend.set_paused(job, verb == "pause"), false);
}

HttpResponse method_not_allowed(const char* allow) {
    HttpResponse r = error_response(405, std::string("method not allowed; use ") + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
}

bool is_job_verb(std::string_view v) {
    return v == "run" || v == "pause" || v == "resume" || v == "cancel";
}

}  // namespace

HttpResponse error_response(int status, std::string_view message) {
    std::string line;
    for (const char c : message.substr(0, kMaxErrorBytes))
        line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (message.size() > kMaxErrorBytes) line += "...";
    return json_response(json{{"error", line}}, status);
}

int status_for(const Error& e) {
    if (e.code == Errc::not_found) return 404;
    if (e.code == Errc::invalid_input) return 409;
    return 500;
}

namespace {

// Whether a Host header names this machine's loopback: localhost,
// 127.0.0.0/8 or [::1], with or without a port.
bool loopback_host(std::string_view host) {
    std::string_view name = host;
    if (name.starts_with('[')) {
        const auto end = name.find(']');
        return end != std::string_view::npos && name.substr(0, end + 1) == "[::1]" &&
               (end + 1 == name.size() || name[end + 1] == ':');
    }
    name = name.substr(0, name.find(':'));
    if (name == "localhost") return true;
    if (!name.starts_with("127.")) return false;
    int dots = 0;
    for (const char c : name) {
        if (c == '.')
            ++dots;
        else if (c < '0' || c > '9')
            return false;
    }
    return dots == 3;
}

}  // namespace

HttpResponse route(const HttpRequest& req, Backend& backend, std::optional<PlanRequest>* plan) {
    auto target = parse_target(req.target);
    if (!target) return error_response(400, target.error().message);
    const std::vector<std::string>& p = target->path;
    const Query q(*target);
    const bool get = req.method == "GET";

    const bool root = p.size() == 1 && p[0].empty();
    const bool metrics = p.size() == 1 && p[0] == "metrics";
    const bool status = p.size() == 2 && p[0] == "v1" && p[1] == "status";
    if (req.peer.via == HttpPeer::Via::tcp) {
        if (!get || !(root || metrics || status))
            return error_response(403,
                                  "only GET /, /metrics and /v1/status answer on this address");
        // DNS rebinding: a web page can point its own name at 127.0.0.1
        // and have a visitor's browser read the status; it cannot make the
        // browser send a loopback Host.
        if (!loopback_host(req.host))
            return error_response(403, "Host " + quote_value(req.host, 80) +
                                           " is not a loopback name; use 127.0.0.1 or localhost");
    }

    if (root || metrics) {
        if (!get) return method_not_allowed("GET");
        if (auto bad = q.unknown_keys({})) return *bad;
        if (root)
            return {200,
                    "text/html; charset=utf-8",
                    backend.status_page(),
                    {{"X-Content-Type-Options", "nosniff"},
                     {"Cache-Control", "no-store"},
                     {"Content-Security-Policy",
                      "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; "
                      "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
                      "frame-ancestors 'none'"}}};
        return {200, "text/plain; version=0.0.4; charset=utf-8", backend.metrics(), {}};
    }
    if (status) return get ? get_status(q, backend) : method_not_allowed("GET");
    if (p.size() == 2 && p[0] == "v1" && p[1] == "sessions")
        return get ? get_sessions(q, backend) : method_not_allowed("GET");
    if (p.size() == 2 && p[0] == "v1" && p[1] == "reload") {
        if (req.method != "POST") return method_not_allowed("POST");
        if (auto bad = q.unknown_keys({})) return *bad;
        return action_response(backend.reload(), false);
    }
    if (p.size() == 4 && p[0] == "v1" && p[1] == "jobs" && (is_job_verb(p[3]) || p[3] == "plan")) {
        const bool plan_route = p[3] == "plan";
        if (plan_route ? !get : req.method != "POST")
            return method_not_allowed(plan_route ? "GET" : "POST");
        if (auto bad = check_job(p[2])) return *bad;
        if (!plan_route) return job_action(p[2], p[3], q, backend);
        if (auto bad = q.unknown_keys({"format"})) return *bad;
        const auto text = wants_text(q);
        if (!text) return error_response(400, text.error().message);
        if (!plan) return error_response(500, "plan is not answered here");
        *plan = PlanRequest{p[2], *text};
        return error_response(500, "the plan was not computed");
    }
    return error_response(404, "no such route: " + quote_value(req.method + " " + req.target));
}

}  // namespace lrsched::control
