// lrsched-sim's action lifecycle, computed from `now`: Pending, InProgress,
// Succeeded, Failed, TimeOut, Cancelled; command times; listing and lag.
#include "support/sim_harness.hpp"

using lrsched::test::body_of;
using lrsched::test::lr_body;
using lrsched::test::quiet_sim_config;
using lrsched::test::script_body;
using lrsched::test::sim_fleet;
using lrsched::test::sim_machine;
using lrsched::test::SimHarness;

namespace {
const auto kThree = lr_body({{"PutFile", {{"FileName", "autoruns.exe"}}},
                             {"RunScript", {{"ScriptName", "collect-autoruns.ps1"}}},
                             {"GetFile", {{"Path", "C:\\Windows\\Temp\\autoruns.csv"}}}});

std::string create(SimHarness& h, std::size_t machine, const std::string& body, double now) {
    const auto r = h.submit(h.machine(machine), body, now);
    REQUIRE(r.status == 201);
    return body_of(r)["id"].get<std::string>();
}
}  // namespace

TEST_CASE("sim lifecycle: an unreachable machine's action stays Pending, then TimeOut") {
    auto c = quiet_sim_config();
    c.queue_expiry = 20;
    SimHarness h(c, {sim_machine(0, lrsched::sim::kNever)});
    h.login(0);
    const std::string id = create(h, 0, kThree, 1);
    CHECK(h.action(id, 20.9)["status"] == "Pending");
    const auto a = h.action(id, 21);
    CHECK(a["status"] == "TimeOut");
    CHECK(a["lastUpdateDateTimeUtc"] == "2025-01-01T00:00:21.0000000Z");
    for (const auto& cmd : a["commands"]) {
        CHECK(cmd["commandStatus"] == "Created");
        CHECK(cmd["startTime"].is_null());
    }
}

TEST_CASE("sim lifecycle: a machine online later runs the commands one at a time") {
    SimHarness h(quiet_sim_config(), {sim_machine(0, 30)});
    h.login(0);
    const std::string id = create(h, 0, kThree, 0);
    CHECK(h.action(id, 29.9)["status"] == "Pending");
    auto a = h.action(id, 33);
    CHECK(a["status"] == "InProgress");
    CHECK(a["commands"][0]["commandStatus"] == "Completed");
    CHECK(a["commands"][0]["startTime"] == "2025-01-01T00:00:30.0000000Z");
    CHECK(a["commands"][0]["endTime"] == "2025-01-01T00:00:32.0000000Z");
    CHECK(a["commands"][1]["commandStatus"] == "Created");
    CHECK(a["commands"][1]["startTime"] == "2025-01-01T00:00:32.0000000Z");
    CHECK(a["commands"][1]["endTime"].is_null());
    CHECK(a["commands"][2]["startTime"].is_null());
    CHECK(a["lastUpdateDateTimeUtc"] == "2025-01-01T00:00:32.0000000Z");
    a = h.action(id, 40);
    CHECK(a["status"] == "Succeeded");
    CHECK(a["commands"][2]["commandStatus"] == "Completed");
    CHECK(a["commands"][2]["endTime"] == "2025-01-01T00:00:40.0000000Z");
    CHECK(a["lastUpdateDateTimeUtc"] == a["lastUpdateTimeUtc"]);
    CHECK(a["lastUpdateDateTimeUtc"] == "2025-01-01T00:00:40.0000000Z");
}

TEST_CASE("sim lifecycle: a failed RunScript fails the action, later commands never run") {
    auto c = quiet_sim_config();
    c.runscript_fail_fraction = 1;
    SimHarness h(c);
    h.login(0);
    const std::string id = create(h, 0, kThree, 0);
    const auto a = h.action(id, 100);
    CHECK(a["status"] == "Failed");
    CHECK(a["commands"][0]["commandStatus"] == "Completed");
    CHECK(a["commands"][1]["commandStatus"] == "Failed");
    CHECK(a["commands"][1]["endTime"] == "2025-01-01T00:00:07.0000000Z");
    CHECK_FALSE(a["commands"][1]["errors"].empty());
    CHECK(a["commands"][2]["commandStatus"] == "Created");
    CHECK(a["commands"][2]["startTime"].is_null());
}

TEST_CASE("sim lifecycle: a hanging RunScript is killed at the timeout") {
    auto c = quiet_sim_config();
    c.runscript_hang_fraction = 1;
    c.runscript_timeout = 600;
    SimHarness h(c);
    h.login(0);
    const std::string id = create(h, 0, script_body(), 0);
    CHECK(h.action(id, 599.9)["status"] == "InProgress");
    const auto a = h.action(id, 600);
    CHECK(a["status"] == "Failed");
    CHECK(a["commands"][0]["commandStatus"] == "Failed");
    CHECK(a["commands"][0]["endTime"] == "2025-01-01T00:10:00.0000000Z");
    CHECK(a["commands"][0]["errors"][0].get<std::string>().find("timed out") != std::string::npos);
}

TEST_CASE("sim lifecycle: which scripts fail is deterministic from the seed") {
    auto c = quiet_sim_config();
    c.runscript_fail_fraction = 0.5;
    c.submit_calls = 1000;
    c.concurrent_sessions = 100;
    auto run = [&] {
        SimHarness h(c, sim_fleet(40));
        h.login(0);
        std::string outcomes;
        for (std::size_t i = 0; i < 40; ++i)
            create(h, i, script_body(), 0);
        const auto list = body_of(h.get("/api/machineactions", 10));
        for (const auto& a : list["value"])
            outcomes += a["status"] == "Failed" ? 'F' : 'S';
        return outcomes;
    };
    const std::string first = run();
    CHECK(first == run());
    CHECK(first.find('F') != std::string::npos);
    CHECK(first.find('S') != std::string::npos);
}

TEST_CASE("sim lifecycle: cancel ends a non-final action, final ones are refused") {
    SimHarness h(quiet_sim_config(), {sim_machine(0, 1000), sim_machine(1)});
    h.login(0);
    const std::string pending = create(h, 0, kThree, 0);
    const auto r = h.post("/api/machineactions/" + pending + "/cancel", R"({"Comment":"stop"})", 5);
    REQUIRE(r.status == 200);
    const auto a = body_of(r);
    CHECK(a["status"] == "Cancelled");
    CHECK(a["cancellationComment"] == "stop");
    CHECK(a["cancellationRequestor"] == h.api.config().client_id);
    CHECK(a["cancellationDateTimeUtc"] == "2025-01-01T00:00:05.0000000Z");
    CHECK(h.action(pending, 2000)["status"] == "Cancelled");  // never runs after coming online
    const auto again =
        h.post("/api/machineactions/" + pending + "/cancel", R"({"Comment":"x"})", 6);
    CHECK(again.status == 400);
    CHECK(body_of(again)["error"]["code"] == "BadRequest");
    CHECK(h.post("/api/machineactions/00000000-0000-4000-8000-000000000000/cancel",
                 R"({"Comment":"x"})", 6)
              .status == 404);

    // Cancelled while running: the running command fails, later ones stay Created.
    const std::string running = create(h, 1, kThree, 10);
    CHECK(body_of(h.post("/api/machineactions/" + running + "/cancel", R"({})",
                         13))["error"]["code"] == "MissingRequiredParameter");
    REQUIRE(
        h.post("/api/machineactions/" + running + "/cancel", R"({"Comment":"stop"})", 13).status ==
        200);
    const auto b = h.action(running, 50);
    CHECK(b["commands"][0]["commandStatus"] == "Completed");
    CHECK(b["commands"][1]["commandStatus"] == "Failed");
    CHECK(b["commands"][2]["commandStatus"] == "Created");
    CHECK(h.submit(h.machine(1), script_body(), 14).status == 201);  // the machine is free again
}

TEST_CASE("sim lifecycle: the list filters, pages in creation order and hides fresh actions") {
    auto c = quiet_sim_config();
    c.visibility_lag = 5;
    SimHarness h(c, {sim_machine(0), sim_machine(1, 1000), sim_machine(2)});
    h.login(0);
    const std::string a0 = create(h, 0, script_body(), 0);
    const std::string a1 = create(h, 1, script_body(), 1);
    const std::string a2 = create(h, 2, script_body(), 2);
    CHECK(h.get("/api/machineactions/" + a2, 6.9).status == 404);
    CHECK(h.get("/api/machineactions/" + a2, 7).status == 200);
    auto ids = [&](const std::string& query, double now) {
        std::vector<std::string> out;
        const auto list = body_of(h.get("/api/machineactions" + query, now));
        for (const auto& a : list["value"])
            out.push_back(a["id"]);
        return out;
    };
    CHECK(ids("", 5.5) == std::vector<std::string>{a0});
    CHECK(ids("", 7) == std::vector<std::string>{a0, a1, a2});
    CHECK(ids("?$filter=status eq 'Pending'", 8) == std::vector<std::string>{a1});
    CHECK(ids("?$filter=machineId eq '" + h.machine(2).id + "'", 8) ==
          std::vector<std::string>{a2});
    CHECK(ids("?$filter=creationDateTimeUtc gt 2025-01-01T00:00:00Z and type eq 'LiveResponse'",
              8) == std::vector<std::string>{a1, a2});
    CHECK(ids("?$filter=requestor eq '" + h.api.config().client_id + "'&$top=1&$skip=1", 8) ==
          std::vector<std::string>{a1});
    CHECK(ids("?$filter=status eq 'Cancelled'", 8).empty());  // an empty list, not a 404
    CHECK(h.get("/api/machineactions?$top=10001", 8).status == 400);
    CHECK(h.get("/api/machineactions?$filter=lastUpdateDateTimeUtc gt 2024-01-01Z", 8).status ==
          400);
}
