// lrsched-sim's runliveresponse: strict bodies, busy machines, the sliding
// submit window and the concurrency cap.
#include "support/sim_harness.hpp"

using lrsched::test::body_of;
using lrsched::test::header_of;
using lrsched::test::lr_body;
using lrsched::test::quiet_sim_config;
using lrsched::test::script_body;
using lrsched::test::sim_fleet;
using lrsched::test::sim_machine;
using lrsched::test::SimHarness;

namespace {
std::string code_of(const lrsched::sim::HttpResponse& r) {
    return body_of(r)["error"]["code"].get<std::string>();
}
}  // namespace

TEST_CASE("sim submit: a valid call creates a Pending LiveResponse action (201)") {
    SimHarness h;
    h.login(0);
    const auto r = h.submit(
        h.machine(1),
        lr_body({{"PutFile", {{"FileName", "autoruns.exe"}}},
                 {"RunScript", {{"ScriptName", "collect-autoruns.ps1"}, {"Args", "-Out x"}}},
                 {"GetFile", {{"Path", "C:\\Windows\\Temp\\autoruns.csv"}}}},
                "sweep lrsched:ab12:3:4"),
        0);
    REQUIRE(r.status == 201);
    const auto a = body_of(r);
    CHECK(a["@odata.context"] == "https://127.0.0.1:4443/api/$metadata#MachineActions/$entity");
    CHECK(lrsched::is_guid(a["id"].get<std::string>()));
    CHECK(a["type"] == "LiveResponse");
    // Online, free, no pickup delay: it starts at once, but the creation
    // answer says Pending, as the API documents (the seed's example).
    CHECK(a["status"] == "Pending");
    CHECK(a["requestor"] == h.api.config().client_id);
    CHECK(a["requestorComment"] == "sweep lrsched:ab12:3:4");
    CHECK(a["machineId"] == h.machine(1).id);
    CHECK(a["computerDnsName"] == "ws-1.test");
    CHECK(a["creationDateTimeUtc"] == "2025-01-01T00:00:00.0000000Z");
    CHECK(a["errorHResult"] == 0);
    REQUIRE(a["commands"].size() == 3);
    CHECK(a["commands"][1]["index"] == 1);
    CHECK(a["commands"][1]["commandStatus"] == "Created");
    CHECK(a["commands"][1]["startTime"].is_null());
    CHECK(a["commands"][1]["command"]["type"] == "RunScript");
    CHECK(a["commands"][1]["command"]["params"][1] ==
          nlohmann::json({{"key", "Args"}, {"value", "-Out x"}}));
    for (const auto& c : a["commands"]) {
        CHECK(c["commandStatus"] == "Created");
        CHECK(c["endTime"].is_null());
    }
    CHECK(a["lastUpdateDateTimeUtc"] == a["creationDateTimeUtc"]);
    // The next read sees it running, its first command started.
    const auto next = h.action(a["id"].get<std::string>(), 0.5);
    CHECK(next["status"] == "InProgress");
    CHECK(next["commands"][0]["startTime"] == "2025-01-01T00:00:00.0000000Z");
}

TEST_CASE("sim submit: the creation answer is Pending even when every command takes no time") {
    auto config = lrsched::test::quiet_sim_config();
    config.putfile_duration = 0;
    config.runscript_duration = 0;
    config.getfile_duration = 0;
    SimHarness h(config);
    h.login(0);
    const auto r = h.submit(h.machine(0), script_body(), 3);
    REQUIRE(r.status == 201);
    const auto a = body_of(r);
    CHECK(a["status"] == "Pending");
    CHECK(a["commands"][0]["commandStatus"] == "Created");
    CHECK(a["commands"][0]["startTime"].is_null());
    CHECK(h.action(a["id"].get<std::string>(), 3.1)["status"] == "Succeeded");
}

TEST_CASE("sim submit: the command order PutFile*, RunScript*, GetFile* is enforced") {
    SimHarness h;
    h.login(0);
    const auto r = h.submit(h.machine(0),
                            lr_body({{"GetFile", {{"Path", "C:\\a"}}},
                                     {"RunScript", {{"ScriptName", "minidump.ps1"}}}}),
                            0);
    CHECK(r.status == 400);
    CHECK(code_of(r) == "InvalidRequestBody");
    CHECK(body_of(r)["error"]["message"].get<std::string>().find("order") != std::string::npos);
    CHECK(h.submit(h.machine(0),
                   lr_body({{"PutFile", {{"FileName", "autoruns.exe"}}},
                            {"PutFile", {{"FileName", "minidump.ps1"}}},
                            {"GetFile", {{"Path", "C:\\a"}}},
                            {"GetFile", {{"Path", "C:\\b"}}}}),
                   1)
              .status == 201);
}

TEST_CASE("sim submit: names are case-sensitive, unknown or missing ones are refused") {
    auto c = quiet_sim_config();
    c.submit_calls = 100;
    SimHarness h(c);
    h.login(0);
    auto post = [&](const std::string& body) { return h.submit(h.machine(0), body, 1); };
    auto wrong_top = post(
        R"({"commands":[{"type":"RunScript","params":[{"key":"ScriptName","value":"minidump.ps1"}]}]})");
    CHECK(wrong_top.status == 400);
    CHECK(code_of(wrong_top) == "InvalidRequestBody");
    CHECK(code_of(post(R"({"Commands":[{"Type":"RunScript","params":[]}]})")) ==
          "InvalidRequestBody");
    CHECK(
        code_of(post(
            R"({"Commands":[{"type":"runscript","params":[{"key":"ScriptName","value":"minidump.ps1"}]}]})")) ==
        "InvalidRequestBody");
    CHECK(code_of(post(lr_body({{"RunScript", {{"scriptName", "minidump.ps1"}}}}))) ==
          "InvalidRequestBody");
    CHECK(code_of(post(
              R"({"Commands":[{"type":"GetFile","params":[{"Key":"Path","value":"C:\\a"}]}]})")) ==
          "InvalidRequestBody");
    CHECK(code_of(post(R"({"Commands":[],"Comment":"x"})")) == "InvalidRequestBody");
    CHECK(code_of(post(R"({"Commands":[{"type":"GetFile","params":[]}],"Comment":5})")) ==
          "InvalidRequestBody");
    CHECK(code_of(post(R"({"Comment":"x"})")) == "MissingRequiredParameter");
    CHECK(code_of(post(lr_body({{"RunScript", {{"Args", "x"}}}}))) == "MissingRequiredParameter");
    CHECK(code_of(post(R"({"Commands":[{"type":"GetFile"}]})")) == "MissingRequiredParameter");
    CHECK(code_of(post(lr_body({{"GetFile", {{"Path", "C:\\a"}, {"Path", "C:\\b"}}}}))) ==
          "InvalidRequestBody");
    // Hostile bodies.
    CHECK(code_of(post("{not json")) == "InvalidRequestBody");
    CHECK(code_of(post(std::string("{\"Commands\":\0}", 15))) == "InvalidRequestBody");
    CHECK(code_of(post(lr_body({{"GetFile", {{"Path", std::string("C:\\a\0b", 6)}}}}))) ==
          "InvalidRequestBody");
    CHECK(code_of(post(std::string(1u << 20, ' ') + "{}")) == "InvalidRequestBody");
    CHECK(h.call("POST", "/api/machines/" + h.machine(0).id + "/runliveresponse", script_body(), 1,
                 "text/plain")
              .status == 415);
    // None of these created anything.
    CHECK(h.api.stats(2)["actions_created"] == 0);
}

TEST_CASE("sim submit: PutFile and RunScript must name library files, unknown machines are 404") {
    SimHarness h;
    h.login(0);
    const auto missing =
        h.submit(h.machine(0), lr_body({{"RunScript", {{"ScriptName", "nope.ps1"}}}}), 1);
    CHECK(missing.status == 400);
    CHECK(code_of(missing) == "BadRequest");
    CHECK(body_of(missing)["error"]["message"].get<std::string>().find("library") !=
          std::string::npos);
    CHECK(
        h.submit(h.machine(0), lr_body({{"PutFile", {{"FileName", "Autoruns.exe"}}}}), 1).status ==
        400);
    const auto unknown = h.submit(sim_machine(77), script_body(), 1);
    CHECK(unknown.status == 404);
    CHECK(code_of(unknown) == "ResourceNotFound");
}

TEST_CASE("sim submit: a machine with an active session answers ActiveRequestAlreadyExists") {
    auto machines = sim_fleet(2);
    machines[1].busy_until = 50;  // someone else's session
    SimHarness h(quiet_sim_config(), machines);
    h.login(0);
    REQUIRE(h.submit(h.machine(0), script_body(), 0).status == 201);
    const auto busy = h.submit(h.machine(0), script_body(), 1);
    CHECK(busy.status == 400);
    CHECK(code_of(busy) == "ActiveRequestAlreadyExists");
    CHECK(h.submit(h.machine(0), script_body(), 5).status == 201);  // the first ended at 5
    CHECK(code_of(h.submit(h.machine(1), script_body(), 49.9)) == "ActiveRequestAlreadyExists");
    CHECK(h.submit(h.machine(1), script_body(), 50).status == 201);
}

TEST_CASE("sim submit: the sliding window counts rejected calls, Retry-After is exact") {
    auto c = quiet_sim_config();
    c.submit_calls = 3;
    c.submit_window = 10;
    SimHarness h(c, sim_fleet(8));
    h.login(0);
    CHECK(h.submit(h.machine(0), script_body(), 0).status == 201);
    CHECK(h.submit(h.machine(1), script_body(), 1).status == 201);
    CHECK(h.submit(h.machine(2), script_body(), 2).status == 201);
    const auto over = h.submit(h.machine(3), script_body(), 3);
    REQUIRE(over.status == 429);
    CHECK(code_of(over) == "TooManyRequests");
    // Refused calls count: at 10 the window (0, 10] holds 1, 2 and 3 (this
    // call); only at 11 does it hold fewer than 3.
    CHECK(header_of(over, "Retry-After") == "8");
    CHECK(h.submit(h.machine(3), script_body(), 5).status == 429);
    // (0.5, 10.5] still holds the calls at 1, 2, 3 and 5: refused calls count.
    const auto again = h.submit(h.machine(3), script_body(), 10.5);
    REQUIRE(again.status == 429);
    CHECK(header_of(again, "Retry-After") == "3");  // the call at 3 leaves at 13
    CHECK(h.submit(h.machine(3), script_body(), 15).status == 201);
    const auto s = h.api.stats(16);
    CHECK(s["throttled"]["submit_rate"] == 3);
    CHECK(s["max_submits_in_any_window"] == 5);  // (-5, 5] held 0, 1, 2, 3, 5
    CHECK(s["max_accepted_submits_in_any_window"] == 3);
}

TEST_CASE("sim submit: the concurrency cap, with Pending counted or not") {
    std::vector<lrsched::sim::Machine> offline;
    for (int i = 0; i < 4; ++i)
        offline.push_back(sim_machine(i, 1000));
    auto c = quiet_sim_config();
    c.concurrent_sessions = 2;
    c.queue_expiry = 100;
    SUBCASE("pending counts") {
        SimHarness h(c, offline);
        h.login(0);
        CHECK(h.submit(h.machine(0), script_body(), 0).status == 201);
        CHECK(h.submit(h.machine(1), script_body(), 10).status == 201);
        const auto capped = h.submit(h.machine(2), script_body(), 20);
        REQUIRE(capped.status == 429);
        CHECK(header_of(capped, "Retry-After") == "80");  // the first expires at 100
        CHECK(h.api.stats(21)["throttled"]["concurrency"] == 1);
        CHECK(h.submit(h.machine(2), script_body(), 100).status == 201);
        CHECK(h.api.stats(101)["max_concurrent_sessions"] == 2);
    }
    SUBCASE("pending does not count") {
        c.pending_counts_as_running = false;
        SimHarness h(c, offline);
        h.login(0);
        for (int i = 0; i < 4; ++i)
            CHECK(h.submit(h.machine(i), script_body(), i).status == 201);
    }
    SUBCASE("running sessions count; Retry-After is when the first ends") {
        SimHarness h(c, sim_fleet(3));
        h.login(0);
        CHECK(h.submit(h.machine(0), script_body(), 0).status == 201);
        CHECK(h.submit(h.machine(1), script_body(), 1).status == 201);
        const auto capped = h.submit(h.machine(2), script_body(), 2);
        REQUIRE(capped.status == 429);
        CHECK(header_of(capped, "Retry-After") == "3");  // ends at 5
        CHECK(h.submit(h.machine(2), script_body(), 5).status == 201);
        CHECK(h.api.stats(6)["max_in_progress"] == 2);
    }
}
