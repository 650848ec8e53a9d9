// lrsched-sim as other tools drive it: the real executable on loopback, over
// TLS verified against the CA it writes, called with the daemon's own client.
#include "common/sha256.hpp"
#include "sim/model/results.hpp"
#include "support/https_sync.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using lrsched::net::Request;
using lrsched::test::BackgroundProcess;
using lrsched::test::SyncHttpsClient;
using lrsched::test::TempDir;
using nlohmann::json;

namespace {

constexpr const char* kClientId = "11111111-1111-1111-1111-111111111111";
constexpr const char* kSecret = "sim-secret";

// The simulator with every random behaviour off unless `extra` says so.
struct Sim {
    TempDir dir;
    BackgroundProcess proc;
    json ready;
    SyncHttpsClient client;
    std::string token;

    explicit Sim(std::vector<std::string> extra)
        : proc(args(dir, std::move(extra)), (dir.path() / "sim.stderr").string()),
          ready(json::parse(proc.ready_line())),
          client(lrsched::net::ClientOptions{ready["ca_file"].get<std::string>(), "lrsched-test"}) {
    }

    static std::vector<std::string> args(const TempDir& dir, std::vector<std::string> extra) {
        std::vector<std::string> a = {LRSCHED_SIM_BINARY,
                                      "--machines",
                                      "6",
                                      "--seed",
                                      "3",
                                      "--port",
                                      "0",
                                      "--client-id",
                                      kClientId,
                                      "--client-secret",
                                      kSecret,
                                      "--state-dir",
                                      (dir.path() / "sim").string(),
                                      "--offline-fraction",
                                      "0",
                                      "--never-online-fraction",
                                      "0",
                                      "--busy-fraction",
                                      "0",
                                      "--putfile-duration",
                                      "0",
                                      "--runscript-duration",
                                      "0",
                                      "--getfile-duration",
                                      "0"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    std::string base() const { return ready["base"]; }

    // One call to the simulator: `path` under base(), or a whole URL (result
    // links); a JSON body when given; the bearer token unless auth is false.
    lrsched::Result<lrsched::net::Response> try_call(std::string method,
                                                     std::string path,
                                                     std::string body = {},
                                                     bool auth = true) {
        Request r;
        r.method = std::move(method);
        r.url = path.rfind("https://", 0) == 0 ? path : base() + path;
        r.body = std::move(body);
        r.body_limit = 64u << 20;
        if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
        if (auth) r.headers.emplace_back("Authorization", "Bearer " + token);
        return client.call(std::move(r));
    }
    // try_call for calls that must get an answer.
    lrsched::net::Response call(std::string method,
                                std::string path,
                                std::string body = {},
                                bool auth = true) {
        auto res = try_call(std::move(method), std::move(path), std::move(body), auth);
        if (!res) FAIL(res.error().message);
        return std::move(res).value();
    }
    void login() {
        Request r;
        r.method = "POST";
        r.url = base() + "/" + ready["tenant"].get<std::string>() + "/oauth2/v2.0/token";
        r.body = std::string("grant_type=client_credentials&client_id=") + kClientId +
                 "&client_secret=" + kSecret +
                 "&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default";
        r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        r.body_limit = 1u << 20;
        auto res = client.call(std::move(r));
        REQUIRE(res.ok());
        REQUIRE(res->status == 200);
        token = json::parse(res->body)["access_token"];
    }
    std::vector<std::string> machine_ids() {
        const auto res = call("GET", "/api/machines?$top=100");
        REQUIRE(res.status == 200);
        std::vector<std::string> ids;
        const json list = json::parse(res.body);
        for (const auto& m : list["value"])
            ids.push_back(m["id"]);
        return ids;
    }
    json stats() { return json::parse(call("GET", "/_sim/stats", {}, false).body); }
};

std::string submit_body(const std::string& tag) {
    return json{{"Commands",
                 {{{"type", "RunScript"},
                   {"params", {{{"key", "ScriptName"}, {"value", "collect-autoruns.ps1"}}}}},
                  {{"type", "GetFile"},
                   {"params", {{{"key", "Path"}, {"value", "C:\\Windows\\Temp\\out.csv"}}}}}}},
                {"Comment", "test [" + tag + "]"}}
        .dump();
}

using Clock = std::chrono::steady_clock;

// Re-checks `done` every 50 ms until it holds; fails the test, naming
// `what`, if it has not after a minute. The bound is a hang detector, far
// beyond any lifetime these tests configure; nothing waits a fixed time.
void wait_for(const std::string& what, const std::function<bool()>& done) {
    const auto give_up = Clock::now() + std::chrono::seconds(60);
    while (!done()) {
        if (Clock::now() > give_up) FAIL("gave up after 60 s waiting for " << what);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// Lower bounds only: the simulator's clock and ours are both CLOCK_MONOTONIC,
// so whatever the scheduling, `since` precedes the event and the answer that
// showed it comes after: an elapsed time below the configured one would be a
// bug in the simulator, never a slow machine.
std::chrono::milliseconds since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

json action_of(Sim& sim, const std::string& id) {
    const auto res = sim.call("GET", "/api/machineactions/" + id);
    REQUIRE(res.status == 200);
    return json::parse(res.body);
}

// The one stored entry of a ZIP written with a data descriptor: local header
// (30 bytes + name), then the data up to the descriptor's signature.
std::string unzip_single(const std::string& zip) {
    REQUIRE(zip.size() > 30);
    REQUIRE(zip.compare(0, 4, "PK\x03\x04") == 0);
    const auto u16 = [&](std::size_t at) {
        return static_cast<std::size_t>(static_cast<unsigned char>(zip[at])) |
               static_cast<std::size_t>(static_cast<unsigned char>(zip[at + 1])) << 8;
    };
    const std::size_t start = 30 + u16(26) + u16(28);
    const std::size_t end = zip.find("PK\x07\x08", start);
    REQUIRE(end != std::string::npos);
    return zip.substr(start, end - start);
}

}  // namespace

TEST_CASE("lrsched-sim over TLS: a live response from submit to verified evidence") {
    Sim sim({"--getfile-size", "100000"});
    sim.login();
    const auto ids = sim.machine_ids();
    REQUIRE(ids.size() == 6);

    auto created = sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse",
                            submit_body("lrsched:ab:1:1"));
    REQUIRE(created.status == 201);
    const std::string action_id = json::parse(created.body)["id"];

    const auto got = sim.call("GET", "/api/machineactions/" + action_id);
    REQUIRE(got.status == 200);
    CHECK(json::parse(got.body)["status"] == "Succeeded");

    const auto link0 = sim.call(
        "GET", "/api/machineactions/" + action_id + "/GetLiveResponseResultDownloadLink(index=0)");
    REQUIRE(link0.status == 200);
    const auto transcript =
        sim.call("GET", json::parse(link0.body)["value"].get<std::string>(), {}, false);
    REQUIRE(transcript.status == 200);
    CHECK(json::parse(transcript.body)["script_name"] == "collect-autoruns.ps1");

    const auto link1 = sim.call(
        "GET", "/api/machineactions/" + action_id + "/GetLiveResponseResultDownloadLink(index=1)");
    const auto zip =
        sim.call("GET", json::parse(link1.body)["value"].get<std::string>(), {}, false);
    REQUIRE(zip.status == 200);
    CHECK(lrsched::sha256_hex(unzip_single(zip.body)) ==
          lrsched::sim::expected_file_sha256(ids[0], "C:\\Windows\\Temp\\out.csv", 100000));

    // A new link for the same result works too: no need to run the live response again.
    const auto again = sim.call(
        "GET", "/api/machineactions/" + action_id + "/GetLiveResponseResultDownloadLink(index=1)");
    REQUIRE(again.status == 200);
    CHECK(json::parse(again.body)["value"] != json::parse(link1.body)["value"]);
    CHECK(sim.call("GET", json::parse(again.body)["value"].get<std::string>(), {}, false).body ==
          zip.body);

    const auto stats = sim.stats();
    CHECK(stats["actions_created"] == 1);
    CHECK(stats["duplicate_tags"] == 0);
}

TEST_CASE("lrsched-sim over TLS: over the submit rate comes a 429 with Retry-After") {
    // A window far longer than the test: the three calls fall in it however slow the machine.
    Sim sim({"--submit-calls", "2", "--submit-window", "1h"});
    sim.login();
    const auto ids = sim.machine_ids();
    CHECK(sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("t1"))
              .status == 201);
    CHECK(sim.call("POST", "/api/machines/" + ids[1] + "/runliveresponse", submit_body("t2"))
              .status == 201);
    const auto third =
        sim.call("POST", "/api/machines/" + ids[2] + "/runliveresponse", submit_body("t3"));
    CHECK(third.status == 429);
    const int retry_after = std::stoi(std::string(third.header("Retry-After")));
    CHECK(retry_after >= 1);
    CHECK(retry_after <= 3600);
    CHECK(sim.stats()["max_submits_in_any_window"] == 3);  // the refused call counts too
}

TEST_CASE(
    "lrsched-sim over TLS: a second live response on a machine is ActiveRequestAlreadyExists") {
    Sim sim({"--runscript-duration", "1h"});  // still running at the second call, however slow
    sim.login();
    const auto ids = sim.machine_ids();
    CHECK(
        sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("a")).status ==
        201);
    const auto second =
        sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("b"));
    CHECK(second.status == 400);
    CHECK(json::parse(second.body)["error"]["code"] == "ActiveRequestAlreadyExists");
}

TEST_CASE(
    "lrsched-sim over TLS: bad credentials, missing tokens, unknown machines and bad order are "
    "refused") {
    Sim sim({});
    Request r;
    r.method = "POST";
    r.url = sim.base() + "/" + sim.ready["tenant"].get<std::string>() + "/oauth2/v2.0/token";
    r.body = std::string("grant_type=client_credentials&client_id=") + kClientId +
             "&client_secret=wrong&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default";
    r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    r.body_limit = 1 << 20;
    const auto bad_login = sim.client.call(r);
    REQUIRE(bad_login.ok());
    CHECK(bad_login->status == 401);
    CHECK(json::parse(bad_login->body)["error_codes"][0] == 7000215);

    const auto no_token = sim.call("GET", "/api/machines", {}, false);
    CHECK(no_token.status == 401);
    CHECK(json::parse(no_token.body)["error"]["code"] == "Unauthorized");

    sim.login();
    const auto unknown = sim.call(
        "POST", "/api/machines/" + std::string(40, 'f') + "/runliveresponse", submit_body("u"));
    CHECK(unknown.status == 404);
    const auto ids = sim.machine_ids();
    const json wrong_order = {
        {"Commands",
         {{{"type", "GetFile"}, {"params", {{{"key", "Path"}, {"value", "C:\\x"}}}}},
          {{"type", "RunScript"},
           {"params", {{{"key", "ScriptName"}, {"value", "collect-autoruns.ps1"}}}}}}},
        {"Comment", "order"}};
    const auto order =
        sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", wrong_order.dump());
    CHECK(order.status == 400);
    CHECK(json::parse(order.body)["error"]["code"] == "InvalidRequestBody");
    CHECK(sim.stats()["actions_created"] == 0);
}

TEST_CASE(
    "lrsched-sim over TLS: an unreachable machine's action is Pending, then TimeOut at the queue "
    "expiry") {
    Sim sim({"--never-online-fraction", "1", "--queue-expiry", "2s"});
    sim.login();
    const auto ids = sim.machine_ids();
    const auto t0 = Clock::now();  // before the action exists
    const auto created =
        sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("x"));
    REQUIRE(created.status == 201);
    // The creation answer tells the state at the creation instant.
    CHECK(json::parse(created.body)["status"] == "Pending");
    const std::string id = json::parse(created.body)["id"];
    json ended;
    wait_for("the action to time out", [&] {
        ended = action_of(sim, id);
        return ended["status"] != "Pending";
    });
    CHECK(ended["status"] == "TimeOut");
    CHECK(ended["commands"][0]["commandStatus"] == "Created");
    CHECK(since(t0) >= std::chrono::seconds(2));  // not before the queue expiry
}

TEST_CASE(
    "lrsched-sim over TLS: a hung RunScript fails at the timeout and the GetFile after it never "
    "runs") {
    Sim sim({"--runscript-hang-fraction", "1", "--runscript-timeout", "1s"});
    sim.login();
    const auto ids = sim.machine_ids();
    const auto t0 = Clock::now();
    const auto created =
        sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("h"));
    REQUIRE(created.status == 201);
    const std::string id = json::parse(created.body)["id"];
    json a;
    wait_for("the hung RunScript to fail", [&] {
        a = action_of(sim, id);
        return a["status"] != "InProgress" && a["status"] != "Pending";
    });
    CHECK(a["status"] == "Failed");
    CHECK(a["commands"][0]["commandStatus"] == "Failed");
    CHECK(a["commands"][1]["commandStatus"] == "Created");
    CHECK(since(t0) >= std::chrono::seconds(1));  // not before the RunScript timeout
    const auto link = sim.call(
        "GET", "/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=1)");
    CHECK(link.status == 400);  // nothing to fetch for a command that never ran
}

TEST_CASE("lrsched-sim over TLS: result links expire") {
    Sim sim({"--link-lifetime", "1s"});
    sim.login();
    const auto ids = sim.machine_ids();
    const auto created =
        sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("e"));
    const std::string id = json::parse(created.body)["id"];
    const auto t0 = Clock::now();  // before the link is issued
    const auto link = sim.call(
        "GET", "/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=0)");
    REQUIRE(link.status == 200);
    const std::string url = json::parse(link.body)["value"];
    wait_for("the link to expire", [&] { return sim.call("GET", url, {}, false).status == 403; });
    CHECK(since(t0) >= std::chrono::seconds(1));  // not before its lifetime
    // Asking again is what a client does: a new link is issued (and works
    // while fresh: the first test case).
    CHECK(
        sim.call("GET", "/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=0)")
            .status == 200);
}

TEST_CASE("lrsched-sim over TLS: tokens expire") {
    Sim sim({"--token-lifetime", "3s"});
    const auto t0 = Clock::now();  // before the token is issued
    sim.login();
    wait_for("the token to be refused",
             [&] { return sim.call("GET", "/api/machines?$top=1").status == 401; });
    CHECK(since(t0) >= std::chrono::seconds(3));  // not before its lifetime
}

TEST_CASE("lrsched-sim over TLS: machines page with $top and $skip, and 404 when none match") {
    Sim sim({});
    sim.login();
    const auto page = [&](const std::string& q) {
        return json::parse(sim.call("GET", "/api/machines?" + q).body);
    };
    const auto all = page("$top=100");
    const auto first = page("$top=4&$skip=0");
    const auto second = page("$top=4&$skip=4");
    REQUIRE(all["value"].size() == 6);
    CHECK(first["value"].size() == 4);
    CHECK(second["value"].size() == 2);
    CHECK(second["value"][0]["id"] == all["value"][4]["id"]);
    CHECK_FALSE(first.contains("@odata.nextLink"));
    const auto none =
        sim.call("GET", "/api/machines?$filter=computerDnsName+eq+%27nobody.example%27");
    CHECK(none.status == 404);
    CHECK(sim.call("GET", "/api/machines?$top=10001").status == 400);
}

TEST_CASE("lrsched-sim over TLS: a new action is missing from the list during the visibility lag") {
    constexpr auto kLag = std::chrono::seconds(3);
    Sim sim({"--visibility-lag", "3s"});
    sim.login();
    const auto ids = sim.machine_ids();
    const auto list = [&] {
        return json::parse(sim.call("GET", "/api/machineactions").body)["value"].size();
    };
    const auto t0 = Clock::now();  // before the action exists
    REQUIRE(sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("lag"))
                .status == 201);
    const auto first = list();
    // A listing answered within the lag of the creation must not show it.
    // On a machine so loaded that even this took longer, there is nothing
    // to conclude from `first`: the check below still holds.
    if (since(t0) < kLag) CHECK(first == 0);
    wait_for("the action to appear in the listing", [&] { return list() == 1; });
    CHECK(since(t0) >= kLag);  // not before the lag
}

TEST_CASE("lrsched-sim over TLS: every fault, at fraction 1") {
    const auto one = [](std::vector<std::string> flags, auto&& check) {
        Sim sim(std::move(flags));
        sim.login();
        check(sim);
    };
    SUBCASE("500 and 503 answers do nothing") {
        one({"--fault-http500", "1"},
            [](Sim& sim) { CHECK(sim.call("GET", "/api/machines").status == 500); });
        one({"--fault-http503", "1"},
            [](Sim& sim) { CHECK(sim.call("GET", "/api/machines").status == 503); });
    }
    SUBCASE("a reset answers nothing at all") {
        one({"--fault-reset", "1"}, [](Sim& sim) {
            const auto res = sim.try_call("GET", "/api/machines");
            REQUIRE_FALSE(res.ok());
            CHECK(res.error().code == make_error_code(lrsched::Errc::no_response));
        });
    }
    SUBCASE("a foreign 429 carries its Retry-After") {
        one({"--fault-foreign-429", "1", "--foreign-retry-after", "7s"}, [](Sim& sim) {
            const auto res = sim.call("GET", "/api/machines");
            CHECK(res.status == 429);
            CHECK(res.header("Retry-After") == "7");
        });
    }
    SUBCASE("a slow answer still arrives") {
        one({"--fault-slow", "1", "--slow-seconds", "0.3"}, [](Sim& sim) {
            CHECK(sim.call("GET", "/api/machines?$top=1").status == 200);
            CHECK(sim.stats()["faults_injected"]["slow"] == 1);
        });
    }
    SUBCASE("an action created whose answer is lost: a 500, then a reset") {
        one({"--fault-created-but-lost", "1"}, [](Sim& sim) {
            const auto ids = sim.machine_ids();
            CHECK(
                sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("l1"))
                    .status == 500);
            const auto lost = sim.try_call("POST", "/api/machines/" + ids[1] + "/runliveresponse",
                                           submit_body("l2"));
            REQUIRE_FALSE(lost.ok());
            CHECK(lost.error().code == make_error_code(lrsched::Errc::no_response));
            CHECK(sim.stats()["actions_created"] == 2);  // both exist, whatever the client saw
        });
    }
    SUBCASE("a download cut half-way is never a complete answer") {
        one({"--fault-truncate-download", "1", "--getfile-size", "200000"}, [](Sim& sim) {
            const auto ids = sim.machine_ids();
            const auto created =
                sim.call("POST", "/api/machines/" + ids[0] + "/runliveresponse", submit_body("t"));
            const std::string id = json::parse(created.body)["id"];
            const auto link = sim.call(
                "GET", "/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=1)");
            const auto res = sim.try_call("GET", json::parse(link.body)["value"], {}, false);
            REQUIRE_FALSE(res.ok());
            CHECK(res.error().code == make_error_code(lrsched::Errc::response_truncated));
        });
    }
}

TEST_CASE("a client refuses lrsched-sim's wrong-host certificate before any request") {
    Sim sim({"--wrong-host"});
    const auto res = sim.try_call("GET", "/_sim/stats", {}, false);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().code == make_error_code(lrsched::Errc::tls_error));
    CHECK(res.error().message.find("127.0.0.1") != std::string::npos);
    CHECK(sim.proc.stop(SIGTERM) == 0);  // and it stops cleanly on SIGTERM
}
