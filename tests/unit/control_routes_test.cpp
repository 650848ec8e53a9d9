// The control API's routes (control/routes.hpp) over a fake Backend: every
// route, every error status, and hostile targets. No socket: the routes
// are a pure function from a request to a response.
#include "control/routes.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using lrsched::Errc;
using lrsched::Error;
using lrsched::HttpPeer;
using lrsched::HttpRequest;
using lrsched::HttpResponse;
using lrsched::Result;
using lrsched::control::ActionOutcome;
using lrsched::control::PlanRequest;
using lrsched::sessions::SessionState;
using nlohmann::json;

namespace {

constexpr const char* kMachine = "0123456789abcdef0123456789abcdef01234567";

// Knows one job, "sweep" (tenant contoso), and records every call.
class FakeBackend : public lrsched::control::Backend {
  public:
    std::vector<std::string> calls;
    std::optional<Error> fail;  // every call after it is set fails with it

    FakeBackend() {
        lrsched::config::Tenant t;
        t.name = "contoso";
        cfg_.tenants.push_back(t);
    }

    const lrsched::config::Config& config() const override { return cfg_; }

    Result<lrsched::view::Overview> overview(std::optional<std::string_view> job) override {
        calls.push_back("overview " + std::string(job.value_or("*")));
        if (fail) return *fail;
        if (job && *job != "sweep")
            return Error{Errc::not_found, "no job named \"" + std::string(*job) + "\""};
        lrsched::view::Overview o;
        lrsched::store::JobReport j;
        j.name = "sweep";
        j.tenant = "contoso";
        o.status.jobs.push_back(j);
        o.etas.emplace_back();
        lrsched::store::TenantReport t;
        t.name = "contoso";
        o.status.tenants.push_back(t);
        return o;
    }
    Result<lrsched::store::SessionsReport> sessions(std::string_view job,
                                                    std::optional<SessionState> state) override {
        calls.push_back("sessions " + std::string(job) + " " +
                        (state ? std::string(to_string(*state)) : "*"));
        if (fail) return *fail;
        if (job != "sweep") return Error{Errc::not_found, "no job named that"};
        lrsched::store::SessionsReport r;
        r.job.name = "sweep";
        return r;
    }
    Result<ActionOutcome> run_now(std::string_view job) override {
        calls.push_back("run " + std::string(job));
        if (fail) return *fail;
        return ActionOutcome{"run 7 started", 7, 0, 0};
    }
    Result<ActionOutcome> set_paused(std::string_view job, bool paused) override {
        calls.push_back((paused ? "pause " : "resume ") + std::string(job));
        if (fail) return *fail;
        return ActionOutcome{paused ? "paused" : "resumed", {}, 0, 0};
    }
    Result<ActionOutcome> cancel(std::string_view job,
                                 std::optional<std::string_view> machine) override {
        calls.push_back("cancel " + std::string(job) + " " + std::string(machine.value_or("*")));
        if (fail) return *fail;
        return ActionOutcome{"cancelled", {}, 3, 2};
    }
    Result<ActionOutcome> reload() override {
        calls.push_back("reload");
        if (fail) return *fail;
        return ActionOutcome{"reloaded 2 jobs", {}, 0, 0};
    }
    std::string metrics() override {
        calls.push_back("metrics");
        return "lrsched_up 1\n";
    }
    const std::string& status_page() override {
        calls.push_back("page");
        return page_;
    }

  private:
    lrsched::config::Config cfg_;
    std::string page_ = "<!doctype html><title>lrsched</title>";
};

HttpResponse call(FakeBackend& b,
                  const std::string& method,
                  const std::string& target,
                  HttpPeer::Via via = HttpPeer::Via::unix_socket,
                  std::optional<PlanRequest>* plan = nullptr,
                  std::string host = "127.0.0.1:9464") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.host = std::move(host);
    req.peer.via = via;
    return lrsched::control::route(req, b, plan);
}

std::string error_of(const HttpResponse& r) {
    const json j = json::parse(r.body);
    return j.at("error").get<std::string>();
}

}  // namespace

TEST_CASE("GET /v1/status answers the read model's JSON, or the status text with format=text") {
    FakeBackend b;
    const HttpResponse all = call(b, "GET", "/v1/status");
    CHECK(all.status == 200);
    CHECK(all.content_type == "application/json");
    CHECK(json::parse(all.body).at("jobs").contains("sweep"));

    const HttpResponse one = call(b, "GET", "/v1/status?job=sweep&format=text");
    CHECK(one.status == 200);
    CHECK(one.content_type.rfind("text/plain", 0) == 0);
    CHECK(one.body.find("job sweep (tenant contoso)\n") != std::string::npos);
    CHECK(b.calls == std::vector<std::string>{"overview *", "overview sweep"});

    CHECK(call(b, "GET", "/v1/status?format=json").status == 200);
    const HttpResponse unknown = call(b, "GET", "/v1/status?job=nope");
    CHECK(unknown.status == 404);
    CHECK(error_of(unknown) == "no job named \"nope\"");
}

TEST_CASE("GET /v1/sessions needs a job and checks the state against the states of SPEC §3") {
    FakeBackend b;
    const HttpResponse listed = call(b, "GET", "/v1/sessions?job=sweep&state=running");
    CHECK(listed.status == 200);
    CHECK(json::parse(listed.body).at("job") == "sweep");
    CHECK(b.calls == std::vector<std::string>{"sessions sweep running"});

    const HttpResponse text = call(b, "GET", "/v1/sessions?job=sweep&format=text");
    CHECK(text.body == "job sweep has not run yet\n");

    const HttpResponse bad_state = call(b, "GET", "/v1/sessions?job=sweep&state=Done");
    CHECK(bad_state.status == 400);
    CHECK(error_of(bad_state).rfind("unknown state \"Done\" (states: queued, busy, ", 0) == 0);
    CHECK(call(b, "GET", "/v1/sessions").status == 400);
    CHECK(call(b, "GET", "/v1/sessions?job=other").status == 404);
    CHECK(b.calls.size() == 3);  // the 400s never reached the backend
}

TEST_CASE("the job actions and reload are POSTs answering the backend's message and counts") {
    FakeBackend b;
    const HttpResponse run = call(b, "POST", "/v1/jobs/sweep/run");
    CHECK(run.status == 200);
    CHECK(json::parse(run.body) == json{{"message", "run 7 started"}, {"run", 7}});
    CHECK(json::parse(call(b, "POST", "/v1/jobs/sweep/pause").body) == json{{"message", "paused"}});
    CHECK(json::parse(call(b, "POST", "/v1/jobs/sweep/resume").body) ==
          json{{"message", "resumed"}});
    const HttpResponse cancel =
        call(b, "POST", std::string("/v1/jobs/sweep/cancel?machine=") + kMachine);
    CHECK(json::parse(cancel.body) ==
          json{{"message", "cancelled"}, {"cancelled", 3}, {"on_server", 2}});
    CHECK(call(b, "POST", "/v1/jobs/sweep/cancel").status == 200);
    CHECK(json::parse(call(b, "POST", "/v1/reload").body) == json{{"message", "reloaded 2 jobs"}});
    CHECK(b.calls == std::vector<std::string>{"run sweep", "pause sweep", "resume sweep",
                                              std::string("cancel sweep ") + kMachine,
                                              "cancel sweep *", "reload"});

    const HttpResponse bad_machine = call(b, "POST", "/v1/jobs/sweep/cancel?machine=host1");
    CHECK(bad_machine.status == 400);
    CHECK(error_of(bad_machine).find("\"host1\"") != std::string::npos);
}

TEST_CASE("the backend's errors map to 404, 409 and 500") {
    FakeBackend b;
    b.fail = Error{Errc::not_found, "no job named \"gone\""};
    CHECK(call(b, "POST", "/v1/jobs/gone/run").status == 404);
    b.fail = Error{Errc::invalid_input, "the job file is deleted"};
    const HttpResponse conflict = call(b, "POST", "/v1/jobs/sweep/run");
    CHECK(conflict.status == 409);
    CHECK(error_of(conflict) == "the job file is deleted");
    b.fail = Error{Errc::database_error, "disk I/O error\nsecond line"};
    const HttpResponse broken = call(b, "GET", "/v1/status");
    CHECK(broken.status == 500);
    CHECK(error_of(broken) == "disk I/O error second line");  // one line
}

TEST_CASE("GET /metrics and GET / answer the backend's text and page") {
    FakeBackend b;
    const HttpResponse m = call(b, "GET", "/metrics");
    CHECK(m.status == 200);
    CHECK(m.content_type == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(m.body == "lrsched_up 1\n");
    const HttpResponse page = call(b, "GET", "/");
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(page.body.rfind("<!doctype html>", 0) == 0);
}

TEST_CASE("GET /v1/jobs/J/plan is handed to the caller with the job and the format") {
    FakeBackend b;
    std::optional<PlanRequest> plan;
    call(b, "GET", "/v1/jobs/sweep/plan?format=text", HttpPeer::Via::unix_socket, &plan);
    REQUIRE(plan);
    CHECK(plan->job == "sweep");
    CHECK(plan->text);
    plan.reset();
    call(b, "GET", "/v1/jobs/sweep/plan", HttpPeer::Via::unix_socket, &plan);
    REQUIRE(plan);
    CHECK_FALSE(plan->text);
    plan.reset();
    CHECK(call(b, "GET", "/v1/jobs/Sweep/plan", HttpPeer::Via::unix_socket, &plan).status == 400);
    CHECK_FALSE(plan);
    CHECK(call(b, "GET", "/v1/jobs/sweep/plan").status == 500);  // nobody to answer it
    CHECK(b.calls.empty());
}

TEST_CASE("a wrong method is a 405 naming the allowed one") {
    FakeBackend b;
    for (const auto& [method, target, allow] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"POST", "/v1/status", "GET"},
             {"DELETE", "/v1/sessions?job=sweep", "GET"},
             {"GET", "/v1/jobs/sweep/run", "POST"},
             {"GET", "/v1/jobs/sweep/cancel", "POST"},
             {"PUT", "/v1/reload", "POST"},
             {"POST", "/v1/jobs/sweep/plan", "GET"},
             {"POST", "/metrics", "GET"},
             {"HEAD", "/", "GET"}}) {
        CAPTURE(target);
        const HttpResponse r = call(b, method, target);
        CHECK(r.status == 405);
        CHECK(r.headers == std::vector<std::pair<std::string, std::string>>{{"Allow", allow}});
    }
    CHECK(b.calls.empty());
}

TEST_CASE("an unknown route is a 404") {
    FakeBackend b;
    for (const char* target : {"/v2/status", "/v1", "/v1/", "/v1/status/", "/v1/jobs/sweep",
                               "/v1/jobs/sweep/explode", "/v1/jobs//run", "/metrics/x", "//"}) {
        CAPTURE(target);
        const HttpResponse r = call(b, "GET", target);
        CHECK(r.status == (std::string(target) == "/v1/jobs//run" ? 405 : 404));
    }
    CHECK(call(b, "POST", "/v1/jobs//run").status == 400);  // an empty job name
    CHECK(b.calls.empty());
}

TEST_CASE("on the TCP listener only GET /, /metrics and /v1/status answer") {
    FakeBackend b;
    const auto tcp = HttpPeer::Via::tcp;
    CHECK(call(b, "GET", "/metrics", tcp).status == 200);
    CHECK(call(b, "GET", "/", tcp).status == 200);
    CHECK(call(b, "GET", "/v1/status?format=text", tcp).status == 200);
    for (const auto& [method, target] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/sessions?job=sweep"},
                                                          {"POST", "/v1/jobs/sweep/run"},
                                                          {"POST", "/v1/jobs/sweep/pause"},
                                                          {"POST", "/v1/jobs/sweep/cancel"},
                                                          {"POST", "/v1/reload"},
                                                          {"GET", "/v1/jobs/sweep/plan"},
                                                          {"POST", "/metrics"},
                                                          {"GET", "/nowhere"}}) {
        CAPTURE(target);
        const HttpResponse r = call(b, method, target, tcp);
        CHECK(r.status == 403);
    }
    CHECK(b.calls == std::vector<std::string>{"metrics", "page", "overview *"});
}

TEST_CASE("on the TCP listener a Host that is not a loopback name is refused (DNS rebinding)") {
    FakeBackend b;
    const auto tcp = HttpPeer::Via::tcp;
    for (const char* host : {"127.0.0.1:9464", "127.0.0.1", "localhost:9464", "localhost",
                             "[::1]:9464", "[::1]", "127.1.2.3:80"}) {
        CAPTURE(host);
        CHECK(call(b, "GET", "/v1/status", tcp, nullptr, host).status == 200);
    }
    for (const char* host : {"evil.example:9464", "evil.example", "", "127.0.0.1.evil.example",
                             "localhost.evil.example", "[::2]:9464", "127.0.0:1", "0.0.0.0",
                             "[::1]evil", "10.0.0.1:9464"}) {
        CAPTURE(host);
        CHECK(call(b, "GET", "/v1/status", tcp, nullptr, host).status == 403);
        CHECK(call(b, "GET", "/", tcp, nullptr, host).status == 403);
    }
    // The Unix socket's peers are checked by their credentials instead.
    CHECK(
        call(b, "GET", "/v1/status", HttpPeer::Via::unix_socket, nullptr, "evil.example").status ==
        200);
}

TEST_CASE("the status page is served with nosniff, no-store and its CSP as headers") {
    FakeBackend b;
    const HttpResponse r = call(b, "GET", "/");
    CHECK(r.content_type == "text/html; charset=utf-8");
    std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
    CHECK(h["X-Content-Type-Options"] == "nosniff");
    CHECK(h["Cache-Control"] == "no-store");
    CHECK(h["Content-Security-Policy"].find("default-src 'none'") != std::string::npos);
    CHECK(h["Content-Security-Policy"].find("frame-ancestors 'none'") != std::string::npos);
}

TEST_CASE("hostile targets are 400s that never reach the backend") {
    FakeBackend b;
    for (const std::string& target : {
             std::string("/v1/jobs/../run"),
             std::string("/v1/jobs/%2e%2e/run"),
             std::string("/v1/jobs/./run"),
             std::string("/v1/jobs/..%2fetc/run"),
             std::string("/v1/jobs/sweep%00/run"),
             std::string("/v1/status?job=sweep%00"),
             std::string("/v1/status?job=a%0ab"),
             std::string("/v1/status?job=%"),
             std::string("/v1/status?job=%4"),
             std::string("/v1/status?job=%zz"),
             std::string("/v1/jobs/swe%g1ep/run"),
             std::string("/v1/status?job=Sweep"),
             std::string("/v1/status?job=-sweep"),
             std::string("/v1/status?job=") + std::string(101, 'a'),
             std::string("/v1/status?job=sweep&job=other"),
             std::string("/v1/status?verbose=1"),
             std::string("/v1/status?format=xml"),
             std::string("/v1/sessions?job=sweep&machine=x"),
             std::string("/v1/jobs/sweep/run?now=1"),
             std::string("/metrics?x"),
             std::string("/?t=1"),
             std::string("/v1/status#frag"),
             std::string("v1/status"),
             std::string(""),
             std::string("/v1/status?job=") + std::string(5000, 'a'),
             std::string("/v1/status\r\nX-Injected: 1"),
         }) {
        CAPTURE(target);
        const std::string method = target.find("/run") != std::string::npos ? "POST" : "GET";
        const HttpResponse r = call(b, method, target);
        CHECK(r.status == 400);
        CHECK(r.content_type == "application/json");
        const std::string error = error_of(r);
        CHECK(error.find('\n') == std::string::npos);
        CHECK(error.find('\0') == std::string::npos);
        CHECK(error.size() < 1100);
    }
    CHECK(b.calls.empty());
}

TEST_CASE("escaped characters that make a valid name are accepted, and bad UTF-8 is replaced") {
    FakeBackend b;
    CHECK(call(b, "GET", "/v1/status?job=%73weep").status == 200);
    CHECK(call(b, "POST", "/v1/jobs/%73weep/run").status == 200);
    CHECK(b.calls == std::vector<std::string>{"overview sweep", "run sweep"});
    // A message that is not UTF-8 still makes a JSON answer.
    const HttpResponse r = lrsched::control::error_response(500, "bad \xff byte");
    CHECK(r.status == 500);
    CHECK(json::parse(r.body).at("error").is_string());
}
