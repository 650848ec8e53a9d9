// SimApi's front door: routing, bearer auth, rate windows, fault injection,
// per-call accounting, and the lazy advance of action lifecycles (ledger).
#include "sim/model/api.hpp"

#include "common/diagnostic.hpp"
#include "common/yaml_reader.hpp"

#include <algorithm>
#include <cmath>

namespace lrsched::sim {
namespace {

constexpr double kDefaultStart = 1735689600;  // 2025-01-01T00:00:00Z
constexpr std::size_t kMaxTarget = 8192;

std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        const auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
    }
    return out;
}

std::string decoded(std::string_view s) {
    return percent_decode(s, false).value_or(std::string(1, '\x01'));  // \x01 never matches
}

}  // namespace

const char* endpoint_name(Endpoint e) {
    switch (e) {
        case Endpoint::token:
            return "token";
        case Endpoint::machines_list:
            return "machines_list";
        case Endpoint::machine_get:
            return "machine_get";
        case Endpoint::runliveresponse:
            return "runliveresponse";
        case Endpoint::actions_list:
            return "machineactions_list";
        case Endpoint::action_get:
            return "machineaction_get";
        case Endpoint::cancel:
            return "cancel";
        case Endpoint::result_link:
            return "result_link";
        case Endpoint::library_list:
            return "libraryfiles_list";
        case Endpoint::library_upload:
            return "libraryfiles_upload";
        case Endpoint::library_delete:
            return "libraryfiles_delete";
        case Endpoint::blob:
            return "blob";
        case Endpoint::stats:
            return "stats";
        case Endpoint::hooks_post:
            return "hooks_post";
        case Endpoint::hooks_get:
            return "hooks_get";
        case Endpoint::unknown:
            return "unknown";
    }
    return "unknown";
}

SimApi::SimApi(SimConfig config, std::vector<Machine> machines, std::unique_ptr<Ledger> ledger)
    : config_(std::move(config)),
      start_(static_cast<Ticks>(std::llround(config_.start_time.value_or(kDefaultStart) *
                                             static_cast<double>(kTicksPerSecond)))),
      fleet_(std::move(machines)),
      ledger_(std::move(ledger)),
      tags_matcher_(config_.tag_regex),
      link_key_(sha256_hex("lrsched-sim link key " + std::to_string(config_.seed))),
      guids_(config_.seed),
      submit_window_(config_.submit_calls, config_.submit_window),
      read_window_(config_.read_calls, config_.read_window),
      read_window_long_(config_.read_calls_long, config_.read_window_long),
      busiest_submits_(config_.submit_window),
      busiest_accepted_submits_(config_.submit_window),
      last_action_of_machine_(fleet_.all().size()) {
    for (const auto& name : config_.library) {
        LibraryFile f;
        f.file_name = name;
        f.sha256 = sha256_hex("lrsched-sim library file " + name);
        f.description = "preloaded by lrsched-sim";
        f.created_by = "lrsched-sim";
        f.has_parameters = name.size() > 4 && name.substr(name.size() - 4) == ".ps1";
        f.creation_time = f.last_updated_time = start_;
        library_.put(std::move(f));
    }
}

Result<std::unique_ptr<SimApi>> SimApi::create(SimConfig config) {
    if (auto v = validate_sim_config(config); !v) return std::move(v).error();
    const Ticks start = static_cast<Ticks>(std::llround(config.start_time.value_or(kDefaultStart) *
                                                        static_cast<double>(kTicksPerSecond)));
    std::vector<Machine> machines;
    if (config.machines_file.empty()) {
        machines = generate_fleet(config, start);
    } else {
        Diagnostics diags;
        auto text = read_text_file(config.machines_file, 512u << 20, diags);
        if (!text) return Error(Errc::invalid_input, diags.to_string());
        auto loaded = load_fleet(*text, start);
        if (!loaded) return std::move(loaded).error();
        machines = std::move(loaded).value();
    }
    std::unique_ptr<Ledger> ledger;
    if (!config.ledger.empty()) {
        auto opened = FileLedger::open(config.ledger);
        if (!opened) return std::move(opened).error();
        ledger = std::move(opened).value();
    }
    return std::make_unique<SimApi>(std::move(config), std::move(machines), std::move(ledger));
}

Ticks SimApi::ticks(double now) const {
    return start_ + static_cast<Ticks>(std::llround(now * static_cast<double>(kTicksPerSecond)));
}

HttpResponse SimApi::json(int status, const nlohmann::json& body) const {
    HttpResponse r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

HttpResponse SimApi::error(int status, const std::string& code, const std::string& message) {
    const bool hostile = config_.hostile_strings && status >= 400 && status < 500;
    return json(status, {{"error",
                          {{"code", code},
                           {"message", hostile ? message + hostile_text() : message},
                           {"target", guids_.next()}}}});
}

HttpResponse SimApi::too_many(const std::string& reason, double wait, const std::string& message) {
    ++throttled_[reason];
    HttpResponse r = error(429, "TooManyRequests", message);
    r.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds(wait)));
    return r;
}

SimApi::Route SimApi::route(const HttpRequest& req, std::string_view path) const {
    Route r;
    const auto seg = segments(path);
    const std::string& m = req.method;
    auto want = [&](Endpoint e, const char* method) {
        r.endpoint = e;
        r.bad_method = m != method;
    };
    if (seg.size() == 4 && iequals(seg[1], "oauth2") && iequals(seg[2], "v2.0") &&
        iequals(seg[3], "token")) {
        want(Endpoint::token, "POST");
        r.arg = decoded(seg[0]);
    } else if (seg.size() == 2 && seg[0] == "_sim" && seg[1] == "stats") {
        want(Endpoint::stats, "GET");
    } else if (seg.size() == 2 && seg[0] == "hooks" && !seg[1].empty()) {
        // The webhook receiver: not MDE, so outside /api's auth, limits and ledger.
        want(m == "POST" ? Endpoint::hooks_post : Endpoint::hooks_get,
             m == "POST" ? "POST" : "GET");
        r.arg = decoded(seg[1]);
    } else if (seg.size() == 3 && seg[0] == "_sim" && seg[1] == "blob") {
        want(Endpoint::blob, "GET");
        r.arg = decoded(seg[2]);
    } else if (!seg.empty() && iequals(seg[0], "api")) {
        r.api = true;
        const std::size_t n = seg.size();
        if (n >= 2 && iequals(seg[1], "machines")) {
            if (n == 2) want(Endpoint::machines_list, "GET");
            if (n == 3) want(Endpoint::machine_get, "GET");
            if (n == 4 && iequals(seg[3], "runliveresponse"))
                want(Endpoint::runliveresponse, "POST");
            if (n >= 3) r.arg = decoded(seg[2]);
        } else if (n >= 2 && iequals(seg[1], "machineactions")) {
            if (n == 2) want(Endpoint::actions_list, "GET");
            if (n == 3) want(Endpoint::action_get, "GET");
            if (n == 4 && iequals(seg[3], "cancel")) want(Endpoint::cancel, "POST");
            constexpr std::string_view kLink = "GetLiveResponseResultDownloadLink(index=";
            if (n == 4 && seg[3].size() > kLink.size() &&
                iequals(seg[3].substr(0, kLink.size()), kLink) && seg[3].back() == ')') {
                const auto digits = seg[3].substr(kLink.size(), seg[3].size() - kLink.size() - 1);
                want(Endpoint::result_link, "GET");
                if (!digits.empty() && digits.size() <= 6 &&
                    digits.find_first_not_of("0123456789") == std::string_view::npos)
                    r.index = std::stoi(std::string(digits));
            }
            if (n >= 3) r.arg = decoded(seg[2]);
        } else if (n >= 2 && iequals(seg[1], "libraryfiles")) {
            if (n == 2)
                want(m == "POST" ? Endpoint::library_upload : Endpoint::library_list,
                     m == "POST" ? "POST" : "GET");
            if (n == 3) want(Endpoint::library_delete, "DELETE");
            if (n == 3) r.arg = decoded(seg[2]);
        }
    }
    return r;
}

HttpResponse SimApi::handle(const HttpRequest& req, double now) {
    advance(now);
    const auto [path, query] = split_target(req.target);
    Route r;
    if (req.target.size() <= kMaxTarget && req.target.find('\0') == std::string::npos)
        r = route(req, path);
    HttpResponse resp = dispatch(r, req, query, now);
    ++calls_[endpoint_name(r.endpoint)][resp.status];
    return resp;
}

HttpResponse SimApi::dispatch(const Route& r,
                              const HttpRequest& req,
                              std::string_view query,
                              double now) {
    if (r.bad_method)
        return error(405, "MethodNotAllowed",
                     "The method " + quote_value(req.method) + " is not allowed here");
    switch (r.endpoint) {
        case Endpoint::token:
            return token(req, r.arg, now);
        case Endpoint::stats:
            return json(200, stats(now));
        case Endpoint::blob:
            return blob(r.arg, query, now);
        case Endpoint::hooks_post:
            return hooks_post(r.arg, req, query);
        case Endpoint::hooks_get:
            return hooks_get(r.arg);
        default:
            break;
    }
    if (r.api) {
        if (!authorized(req, now))
            return error(401, "Unauthorized", "Invalid Authorization payload.");
        if (r.endpoint == Endpoint::unknown) return error(404, "NotFound", "No such API");
        return api_call(r, req, query, now);
    }
    return error(404, "NotFound", "No such resource");
}

HttpResponse SimApi::api_call(const Route& r,
                              const HttpRequest& req,
                              std::string_view query,
                              double now) {
    // Rate windows: every authenticated call counts, even those refused.
    if (r.endpoint == Endpoint::runliveresponse) {
        busiest_submits_.add(now);
        if (!submit_window_.record(now))
            return too_many("submit_rate", submit_window_.wait(now),
                            "Rate limit of " + std::to_string(config_.submit_calls) +
                                " runliveresponse calls per window exceeded");
    } else {
        const bool a = read_window_.record(now);
        const bool b = read_window_long_.record(now);
        if (!a || !b)
            return too_many("read_rate",
                            std::max(read_window_.wait(now), read_window_long_.wait(now)),
                            "Rate limit of read calls exceeded");
    }

    if (r.endpoint == Endpoint::library_list || r.endpoint == Endpoint::library_upload) {
        int& failed = library_unavailable_[r.endpoint == Endpoint::library_list ? 0 : 1];
        if (failed < config_.fault_library_unavailable) {
            ++failed;
            ++faults_["library_unavailable"];
            return error(503, "ServiceUnavailable", "The service is unavailable (injected)");
        }
    }
    // Faults: independent draws per kind from (seed, call number, kind).
    const std::uint64_t n = ++fault_draws_;
    auto draw = [&](std::uint64_t kind, double fraction) {
        return fraction > 0 &&
               unit_double(mix64(mix64(config_.seed ^ 0xfa017) + n * 16 + kind)) < fraction;
    };
    if (draw(1, config_.fault_reset)) {
        ++faults_["reset"];
        HttpResponse resp;
        resp.status = 0;  // never sent
        resp.fault = Fault::reset_before_reply;
        return resp;
    }
    if (draw(2, config_.fault_http500)) {
        ++faults_["http500"];
        return error(500, "InternalServerError", "An unexpected error occurred (injected)");
    }
    if (draw(3, config_.fault_http503)) {
        ++faults_["http503"];
        HttpResponse resp =
            error(503, "ServiceUnavailable", "The service is unavailable (injected)");
        return resp;
    }
    if (draw(4, config_.fault_foreign_429)) {
        ++faults_["foreign_429"];
        return too_many("foreign", config_.foreign_retry_after,
                        "Rate limit exceeded by another client of this tenant");
    }
    const bool slow = draw(5, config_.fault_slow);
    if (slow) ++faults_["slow"];

    HttpResponse resp;
    switch (r.endpoint) {
        case Endpoint::machines_list:
            resp = machines_list(query, now);
            break;
        case Endpoint::machine_get:
            resp = machine_get(r.arg, now);
            break;
        case Endpoint::runliveresponse:
            resp = runliveresponse(r.arg, req, now);
            break;
        case Endpoint::actions_list:
            resp = actions_list(query, now);
            break;
        case Endpoint::action_get:
            resp = action_get(r.arg, now);
            break;
        case Endpoint::cancel:
            resp = cancel(r.arg, req, now);
            break;
        case Endpoint::result_link:
            resp = result_link(r.arg, r.index, now);
            break;
        case Endpoint::library_list:
            resp = library_list();
            break;
        case Endpoint::library_upload:
            resp = library_upload(req, now);
            break;
        case Endpoint::library_delete:
            resp = library_delete(r.arg);
            break;
        default:
            resp = error(404, "NotFound", "No such API");
            break;
    }
    if (r.endpoint == Endpoint::runliveresponse && resp.status == 201) {
        busiest_accepted_submits_.add(now);
        if (draw(6, config_.fault_created_but_lost)) {
            // The action exists; the client never learns it. Alternate 500 and reset.
            if (lost_++ % 2 == 0) {
                ++faults_["created_but_lost_500"];
                resp = error(500, "InternalServerError", "An unexpected error occurred (injected)");
            } else {
                ++faults_["created_but_lost_reset"];
                resp = HttpResponse{};
                resp.status = 0;
                resp.fault = Fault::reset_before_reply;
            }
        }
    }
    if (slow) resp.delay_seconds = config_.slow_seconds;
    return resp;
}

void SimApi::log_transitions(Action& a, double now) {
    const auto ts = transitions(a);
    while (a.transitions_logged < ts.size() && ts[a.transitions_logged].at <= now) {
        const auto& t = ts[a.transitions_logged];
        if (ledger_)
            ledger_->append({{"event", a.transitions_logged == 0 ? "created" : "status"},
                             {"now", now},
                             {"at", t.at},
                             {"action", a.id},
                             {"machine", a.machine_id},
                             {"tag", a.tag},
                             {"status", status_name(t.status)}});
        ++a.transitions_logged;
    }
}

void SimApi::advance(double now) {
    std::erase_if(active_, [&](std::size_t i) {
        log_transitions(actions_[i], now);
        return is_final(status_at(actions_[i], now));
    });
}

}  // namespace lrsched::sim
