// Machine health re-checks (issue 11, item 2): while sessions wait for
// machines that looked offline, the machines that do not look active are
// listed again every few polls, and every waiting session takes its
// machine's present class: a machine that came online is dispatched as
// online, a pending session to it leaves the offline share, and a machine
// that went offline goes through the offline slots.
#include "support/dispatch_fixture.hpp"

#include <doctest/doctest.h>

using lrsched::api::Machine;
using lrsched::dispatch::Submit;
using lrsched::store::SessionState;
using lrsched::test::DispatchFixture;
using lrsched::test::job_yaml;
using lrsched::test::machine_id;
using lrsched::test::unwrap;

namespace {

std::vector<Machine> machines(std::initializer_list<int> ids) {
    std::vector<Machine> out;
    for (int i : ids) {
        Machine m;
        m.id = machine_id(i);
        out.push_back(m);
    }
    return out;
}

bool looks_offline(DispatchFixture& f, std::int64_t session_id) {
    return unwrap(f.store.find_session(session_id))->looks_offline;
}

}  // namespace

TEST_CASE("no health re-check while nothing waits for an offline-looking machine") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}}, 0);
    CHECK_FALSE(f.d->health_check_due(0));
    CHECK_FALSE(f.d->next_health_check().has_value());
}

TEST_CASE("health is re-checked every four polls while an offline-looking session waits") {
    DispatchFixture f;  // poll_interval 1 s
    f.add_run("sweep", job_yaml(50), {{1, true}, {2, false}}, 0);
    REQUIRE(f.d->health_check_due(0));
    f.d->on_health(machines({1}), 0);  // still offline
    CHECK_FALSE(f.d->health_check_due(3'999));
    CHECK(f.d->next_health_check() == 4'000);
    CHECK(f.d->health_check_due(4'000));
    f.d->health_check_failed(4'000);
    CHECK_FALSE(f.d->health_check_due(7'999));
    CHECK(f.d->health_check_due(8'000));
}

TEST_CASE(
    "a machine that came online is dispatched as online, and its pending session leaves "
    "the offline share") {
    DispatchFixture f;  // 2 slots, 1 for offline-looking machines
    const auto run = f.add_run("sweep", job_yaml(50), {{1, true}, {2, true}, {3, false}}, 0);
    const Submit a = f.submit(10);  // the offline share first
    CHECK(a.machine_id == machine_id(1));
    f.created(a, 11);
    const Submit b = f.submit(20);  // the share is taken: the online one
    CHECK(b.machine_id == machine_id(3));
    f.created(b, 21);
    CHECK(f.d->gate().held_offline() == 1);

    // Machines 1 and 2 are active now: only machine 9 (not ours) is listed.
    REQUIRE(f.d->health_check_due(1'000));
    f.d->on_health(machines({9}), 1'000);
    CHECK(f.d->take_wake());
    CHECK(f.d->gate().held_offline() == 0);
    CHECK_FALSE(looks_offline(f, a.session_id));
    const auto queued = unwrap(f.store.sessions_of_run(run, SessionState::queued));
    REQUIRE(queued.size() == 1);
    CHECK_FALSE(queued[0].looks_offline);

    f.d->on_listing({f.action(b, "Succeeded")}, 1'100);
    CHECK(f.collect_all(1'100) == 1);
    const Submit c = f.submit(1'200);
    CHECK(c.machine_id == machine_id(2));
    CHECK(f.d->gate().held_offline() == 0);  // sent as online
}

TEST_CASE("a machine that went offline goes through the offline slots") {
    DispatchFixture f;  // 2 slots, 1 for offline-looking machines
    f.add_run("sweep", job_yaml(50), {{1, true}, {2, false}, {3, false}}, 0);
    const Submit a = f.submit(10);
    CHECK(a.machine_id == machine_id(1));
    f.created(a, 11);
    REQUIRE(f.d->health_check_due(1'000));
    // Machine 1 is still offline, and 2 has gone offline too.
    f.d->on_health(machines({1, 2}), 1'000);
    const Submit b = f.submit(1'100);
    CHECK(b.machine_id == machine_id(3));  // 2 waits for the offline share
    CHECK(f.d->gate().held_offline() == 1);
    // Its pending session counts as offline when it goes offline.
    f.created(b, 1'101);
    f.d->on_health(machines({1, 2, 3}), 5'000);
    CHECK(f.d->gate().held_offline() == 2);
    CHECK(looks_offline(f, b.session_id));
}

TEST_CASE("the re-check lists what jobs::looks_offline calls offline: not Active, or stale") {
    DispatchFixture f;
    f.tenant.offline_after = std::chrono::hours(25);
    f.reload(0);
    // 2024-05-02T03:00:00Z, less 25 h.
    const auto filters = f.d->offline_filters(1'714'618'800'000);
    CHECK(filters ==
          std::vector<std::string>{"healthStatus ne 'Active'", "lastSeen lt 2024-05-01T02:00:00Z"});
}
