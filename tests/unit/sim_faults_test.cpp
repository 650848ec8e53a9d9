// lrsched-sim's read limits, injected faults, library, stats and ledger.
#include "support/sim_harness.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <fstream>

using lrsched::sim::Fault;
using lrsched::test::body_of;
using lrsched::test::header_of;
using lrsched::test::quiet_sim_config;
using lrsched::test::script_body;
using lrsched::test::sim_fleet;
using lrsched::test::SimHarness;

TEST_CASE("sim faults: the read limits apply to every other /api call, per minute and per hour") {
    auto c = quiet_sim_config();
    c.read_calls = 3;
    c.read_window = 60;
    c.read_calls_long = 5;
    c.read_window_long = 3600;
    SimHarness h(c);
    h.login(0);
    CHECK(h.get("/api/machines", 0).status == 200);
    CHECK(h.get("/api/machineactions", 1).status == 200);
    CHECK(h.get("/api/libraryfiles", 2).status == 200);
    const auto over = h.get("/api/machines", 3);
    REQUIRE(over.status == 429);
    CHECK(header_of(over, "Retry-After") == "58");                  // the call at 1 leaves at 61
    CHECK(h.submit(h.machine(0), script_body(), 4).status == 201);  // the submit budget is separate
    CHECK(h.get("/api/machines", 200).status == 200);               // 5th call in the hour
    const auto hourly = h.get("/api/machines", 300);
    REQUIRE(hourly.status == 429);
    CHECK(header_of(hourly, "Retry-After") == "3301");  // the call at 1 leaves the hour at 3601
    CHECK(h.api.stats(301)["throttled"]["read_rate"] == 2);
}

TEST_CASE("sim faults: each fault at fraction 1.0") {
    auto c = quiet_sim_config();
    SUBCASE("500: nothing is done") {
        c.fault_http500 = 1;
        SimHarness h(c);
        h.login(0);
        const auto r = h.submit(h.machine(0), script_body(), 1);
        CHECK(r.status == 500);
        CHECK(body_of(r)["error"]["code"] == "InternalServerError");
        CHECK(h.api.stats(2)["actions_created"] == 0);
        CHECK(h.api.stats(2)["faults_injected"]["http500"] == 1);
    }
    SUBCASE("503: nothing is done") {
        c.fault_http503 = 1;
        SimHarness h(c);
        h.login(0);
        CHECK(h.submit(h.machine(0), script_body(), 1).status == 503);
        CHECK(h.api.stats(2)["actions_created"] == 0);
    }
    SUBCASE("reset: the transport resets, nothing is done") {
        c.fault_reset = 1;
        SimHarness h(c);
        h.login(0);
        const auto r = h.get("/api/machines", 1);
        CHECK(r.fault == Fault::reset_before_reply);
        CHECK(h.submit(h.machine(0), script_body(), 1).fault == Fault::reset_before_reply);
        CHECK(h.api.stats(2)["actions_created"] == 0);
        CHECK(h.api.stats(2)["calls"]["machines_list"]["reset"] == 1);
    }
    SUBCASE("slow: answered after slow_seconds") {
        c.fault_slow = 1;
        c.slow_seconds = 7.5;
        SimHarness h(c);
        h.login(0);
        const auto r = h.get("/api/machines", 1);
        CHECK(r.status == 200);
        CHECK(r.delay_seconds == 7.5);
    }
    SUBCASE("foreign 429: someone else used the budget") {
        c.fault_foreign_429 = 1;
        c.foreign_retry_after = 12;
        SimHarness h(c);
        h.login(0);
        const auto r = h.submit(h.machine(0), script_body(), 1);
        CHECK(r.status == 429);
        CHECK(header_of(r, "Retry-After") == "12");
        CHECK(h.api.stats(2)["throttled"]["foreign"] == 1);
        CHECK(h.api.stats(2)["actions_created"] == 0);
    }
    SUBCASE("created but lost: the action exists, the answer is a 500 or a reset, alternately") {
        c.fault_created_but_lost = 1;
        SimHarness h(c);
        h.login(0);
        const auto first = h.submit(h.machine(0), script_body("lrsched:aa:1:1"), 1);
        CHECK(first.status == 500);
        const auto second = h.submit(h.machine(1), script_body("lrsched:aa:1:2"), 2);
        CHECK(second.fault == Fault::reset_before_reply);
        const auto list = body_of(h.get("/api/machineactions", 3));
        REQUIRE(list["value"].size() == 2);
        CHECK(list["value"][0]["requestorComment"] == "lrsched:aa:1:1");
        CHECK(list["value"][1]["machineId"] == h.machine(1).id);
        // The machine is now busy with the lost action.
        CHECK(body_of(h.submit(h.machine(0), script_body(), 3))["error"]["code"] ==
              "ActiveRequestAlreadyExists");
    }
    SUBCASE("truncated download") {
        c.fault_truncate_download = 1;
        SimHarness h(c);
        h.login(0);
        const auto id = body_of(h.submit(h.machine(0), script_body(), 0))["id"].get<std::string>();
        const std::string url = body_of(
            h.get("/api/machineactions/" + id + "/GetLiveResponseResultDownloadLink(index=0)",
                  10))["value"];
        const auto r = h.call("GET", url.substr(url.find("/_sim/")), "", 11, "", false);
        CHECK(r.fault == Fault::truncate_body);
        CHECK(r.truncate_at == r.body.size() / 2);
    }
}

TEST_CASE("sim faults: the fault draws are deterministic from the seed") {
    auto c = quiet_sim_config();
    c.fault_http500 = 0.3;
    auto run = [&] {
        SimHarness h(c);
        h.login(0);
        std::string s;
        for (int i = 0; i < 60; ++i)
            s += h.get("/api/libraryfiles", i).status == 500 ? 'x' : '.';
        return s;
    };
    const std::string a = run();
    CHECK(a == run());
    const auto n = std::count(a.begin(), a.end(), 'x');
    CHECK(n > 5);
    CHECK(n < 35);
}

TEST_CASE("sim library: list, upload (multipart), override rule, delete") {
    SimHarness h;
    h.login(0);
    const auto list = body_of(h.get("/api/libraryfiles", 1));
    CHECK(list["@odata.context"] == "https://127.0.0.1:4443/api/$metadata#LibraryFiles");
    REQUIRE(list["value"].size() == 4);
    for (const char* k : {"fileName", "sha256", "description", "creationTime", "lastUpdatedTime",
                          "createdBy", "hasParameters", "parametersDescription"})
        CHECK(list["value"][0].contains(k));

    auto upload = [&](const std::string& name, const std::string& content, bool override_it) {
        const std::string b = "XyZbOuNdArY";
        std::string body =
            "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
            "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + "\r\n--" + b +
            "\r\nContent-Disposition: form-data; name=\"Description\"\r\n\r\nmy script\r\n";
        if (override_it)
            body += "--" + b +
                    "\r\nContent-Disposition: form-data; name=\"OverrideIfExists\"\r\n\r\ntrue\r\n";
        body += "--" + b + "--\r\n";
        return h.call("POST", "/api/libraryfiles", body, 2, "multipart/form-data; boundary=" + b);
    };
    const auto ok = upload("new.ps1", "Write-Output 1", false);
    REQUIRE(ok.status == 200);
    CHECK(body_of(ok)["fileName"] == "new.ps1");
    CHECK(body_of(ok)["sha256"] == lrsched::sim::sha256_hex("Write-Output 1"));
    CHECK(body_of(ok)["description"] == "my script");
    CHECK(upload("new.ps1", "again", false).status == 400);
    CHECK(upload("new.ps1", "again", true).status == 200);
    CHECK(upload("../evil.ps1", "x", false).status == 400);
    CHECK(upload("big.bin", std::string((20u << 20) + 1, 'x'), false).status == 400);
    CHECK(
        h.call("POST", "/api/libraryfiles", "junk", 2, "multipart/form-data; boundary=q").status ==
        400);
    // The new script is usable at once; a deleted one is not.
    CHECK(h.submit(h.machine(0),
                   lrsched::test::lr_body({{"RunScript", {{"ScriptName", "new.ps1"}}}}), 3)
              .status == 201);
    CHECK(h.call("DELETE", "/api/libraryfiles/minidump.ps1", "", 4, "").status == 204);
    CHECK(h.call("DELETE", "/api/libraryfiles/minidump.ps1", "", 4, "").status == 404);
    CHECK(h.submit(h.machine(1), script_body(), 5).status == 400);
}

TEST_CASE("sim faults: the first N library listings and the first N uploads answer 503") {
    auto c = quiet_sim_config();
    c.fault_library_unavailable = 2;
    SimHarness h(c);
    h.login(0);
    const std::string b = "b0undary";
    const std::string upload =
        "--" + b +
        "\r\nContent-Disposition: form-data; name=\"File\"; filename=\"a.ps1\""
        "\r\n\r\nx\r\n--" +
        b + "--\r\n";
    const auto post = [&](double now) {
        return h
            .call("POST", "/api/libraryfiles", upload, now, "multipart/form-data; boundary=" + b)
            .status;
    };
    CHECK(h.get("/api/libraryfiles", 1).status == 503);
    CHECK(post(2) == 503);
    CHECK(h.get("/api/machines", 3).status == 200);  // other endpoints are not affected
    CHECK(h.get("/api/libraryfiles", 4).status == 503);
    CHECK(h.get("/api/libraryfiles", 5).status == 200);
    CHECK(post(6) == 503);
    CHECK(post(7) == 200);
    CHECK(h.get("/api/libraryfiles", 8).status == 200);
    CHECK(h.api.stats(9)["faults_injected"]["library_unavailable"] == 4);
}

TEST_CASE("sim stats: calls, busiest window, duplicate tags, actions per machine") {
    auto c = quiet_sim_config();
    c.submit_calls = 100;
    SimHarness h(c, sim_fleet(4));
    h.login(0);
    CHECK(h.submit(h.machine(0), script_body("job lrsched:ab:1:1"), 0).status == 201);
    CHECK(h.submit(h.machine(1), script_body("lrsched:ab:1:2"), 30).status == 201);
    CHECK(h.submit(h.machine(2), script_body("lrsched:ab:1:3 x"), 59).status == 201);
    CHECK(h.submit(h.machine(3), script_body("no tag here"), 60).status == 201);
    // Same tag again after the first action ended: counted as a duplicate.
    CHECK(h.submit(h.machine(1), script_body("again lrsched:ab:1:1"), 100).status == 201);
    CHECK(h.submit(h.machine(2), script_body("bad lrsched:zz:1:1"), 110).status == 201);
    const auto s = h.api.stats(120);
    CHECK(s["max_submits_in_any_window"] == 4);  // (50, 110] holds 59, 60, 100 and 110
    CHECK(s["actions_created"] == 6);
    CHECK(s["duplicate_tags"] == 1);
    CHECK(s["duplicate_tag_examples"] == nlohmann::json::array({"lrsched:ab:1:1"}));
    CHECK(s["actions_per_machine"][h.machine(1).id] == 2);
    CHECK(s["calls"]["runliveresponse"]["201"] == 6);
    CHECK(s["calls"]["token"]["200"] == 1);
    CHECK(s["actions_by_status"]["Succeeded"] == 6);
}

TEST_CASE("sim ledger: one line per creation and per status change, with the tag") {
    auto ledger = std::make_unique<lrsched::sim::MemoryLedger>();
    auto* lines = &ledger->lines;
    SimHarness h(quiet_sim_config(), {lrsched::test::sim_machine(0, 10)}, std::move(ledger));
    h.login(0);
    const auto id = body_of(h.submit(h.machine(0), script_body("x lrsched:0f:2:3"), 1))["id"];
    REQUIRE(lines->size() == 1);
    CHECK((*lines)[0]["event"] == "created");
    CHECK((*lines)[0]["status"] == "Pending");
    CHECK((*lines)[0]["tag"] == "lrsched:0f:2:3");
    CHECK((*lines)[0]["action"] == id);
    CHECK((*lines)[0]["machine"] == h.machine(0).id);
    CHECK(h.get("/api/libraryfiles", 100).status == 200);  // any call advances time
    REQUIRE(lines->size() == 3);
    CHECK((*lines)[1]["status"] == "InProgress");
    CHECK((*lines)[1]["at"] == 10.0);
    CHECK((*lines)[1]["now"] == 100.0);
    CHECK((*lines)[2]["status"] == "Succeeded");
    CHECK((*lines)[2]["at"] == 15.0);
}

TEST_CASE("sim ledger: the file ledger appends flushed JSON lines") {
    lrsched::test::TempDir dir;
    auto c = quiet_sim_config();
    c.ledger = (dir.path() / "ledger.jsonl").string();
    c.machines = 3;
    auto api = lrsched::sim::SimApi::create(c);
    REQUIRE(api.ok());
    lrsched::sim::HttpRequest token;
    token.method = "POST";
    token.target = "/" + c.tenant + "/oauth2/v2.0/token";
    token.headers = {{"content-type", "application/x-www-form-urlencoded"}};
    token.body = "grant_type=client_credentials&client_id=" + c.client_id +
                 "&client_secret=" + c.client_secret +
                 "&scope=https://api.securitycenter.microsoft.com/.default";
    const auto t = (*api)->handle(token, 0);
    REQUIRE(t.status == 200);
    lrsched::sim::HttpRequest submit;
    submit.method = "POST";
    submit.target = "/api/machines/" + (*api)->fleet().all()[0].id + "/runliveresponse";
    submit.headers = {{"content-type", "application/json"},
                      {"authorization", "Bearer " + body_of(t)["access_token"].get<std::string>()}};
    submit.body = script_body("lrsched:1:2:3");
    REQUIRE((*api)->handle(submit, 1).status == 201);
    std::ifstream in(c.ledger);
    std::string line;
    REQUIRE(std::getline(in, line));  // readable while the simulator still runs
    CHECK(nlohmann::json::parse(line)["tag"] == "lrsched:1:2:3");
}
