// A realistic fleet end to end (issue 11): late, never-online and busy
// machines through the real daemon and lrsched-sim. Offline-looking
// machines are sent while online ones still wait (their queue time
// overlaps the sweep), a machine that comes online is dispatched as online
// after a health re-check, and a busy machine comes back after
// retry.busy_every without holding up the rest; every limit and
// exactly-once still hold. The oracle is the daemon's event log (each
// creation and submit event says how the machine looked) and the
// simulator's stats. Nothing asserts on time.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

using lrsched::test::DaemonE2e;
using lrsched::test::kFinalStatesSql;
using lrsched::test::ReadOnlyDb;
using lrsched::test::SweepSpec;
using nlohmann::json;

TEST_CASE(
    "fleet e2e: offline machines wait in parallel, come back online as online, busy ones "
    "retry after busy_every, within every limit") {
    SweepSpec spec;
    spec.machines = 60;
    spec.submit_calls = 6;
    spec.submit_window = "1s";
    spec.concurrent_sessions = 8;
    spec.offline_slots = 3;
    spec.queue_expiry = "4s";
    spec.poll_interval = "250ms";
    spec.offline_fraction = "0.3";  // online 1 s .. 5 s after the simulator starts
    spec.online_after_max = "5s";
    spec.never_online_fraction = "0.05";
    spec.busy_fraction = "0.1";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();

    json stats = e2e.stats();
    stats.erase("actions_per_machine");
    INFO("stats: " << stats.dump());
    CHECK(stats["max_submits_in_any_window"].get<int>() <= spec.submit_calls);
    CHECK(stats["max_concurrent_sessions"].get<int>() <= spec.concurrent_sessions);
    CHECK(stats["throttled"]["submit_rate"] == 0);
    CHECK(stats["throttled"]["concurrency"] == 0);
    CHECK(stats["throttled"]["read_rate"] == 0);
    CHECK(stats["duplicate_tags"] == 0);

    ReadOnlyDb db(e2e.db_path());
    INFO("the daemon's last lines:\n" << e2e.log_tail());
    CHECK(db.scalar(std::string("SELECT count(*) FROM sessions WHERE state NOT IN ") +
                    kFinalStatesSql) == 0);

    // Offline-looking machines were sent while online-looking ones still
    // waited, not all after them.
    const std::int64_t first_offline_submit = db.scalar(
        "SELECT min(at) FROM session_events WHERE to_state = 'submitting' AND "
        "detail = 'machine looks offline'");
    const std::int64_t last_online_submit = db.scalar(
        "SELECT max(at) FROM session_events WHERE to_state = 'submitting' AND "
        "detail = 'machine looks online'");
    CHECK(first_offline_submit > 0);
    CHECK(first_offline_submit < last_online_submit);

    // A machine that looked offline when its run was resolved, then came
    // online, was sent as online and its session ran.
    const std::int64_t came_online = db.scalar(
        "SELECT count(DISTINCT s.id) FROM sessions s "
        "JOIN session_events c ON c.session_id = s.id AND c.from_state IS NULL AND "
        "c.detail = 'machine looks offline' "
        "JOIN session_events u ON u.session_id = s.id AND u.to_state = 'submitting' AND "
        "u.detail = 'machine looks online' "
        "WHERE s.state = 'done'");
    CHECK(came_online > 0);
    CHECK(e2e.log().find("now look online") != std::string::npos);

    // A busy machine was tried again no sooner than busy_every (1 s) after
    // its busy answer, and got its session done.
    const auto busy = db.rows(
        "SELECT b.session_id, b.at, (SELECT min(n.at) FROM session_events n WHERE "
        "n.session_id = b.session_id AND n.to_state = 'submitting' AND n.at > b.at) "
        "FROM session_events b WHERE b.to_state = 'busy'");
    REQUIRE_FALSE(busy.empty());
    for (const auto& row : busy) {
        INFO("session " << *row[0] << " busy at " << *row[1]);
        REQUIRE(row[2].has_value());
        CHECK(std::stoll(*row[2]) - std::stoll(*row[1]) >= 1'000);
    }
    CHECK(db.scalar("SELECT count(*) FROM sessions s WHERE s.state = 'done' AND EXISTS (SELECT 1 "
                    "FROM session_events e WHERE e.session_id = s.id AND e.to_state = 'busy')") >
          0);
}
