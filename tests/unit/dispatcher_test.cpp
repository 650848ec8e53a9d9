// The dispatcher's decisions (SPEC §1, §3) over a real store file: order,
// limits, the submit protocol and its reconciliation, the daemon's backstops
// and a restart. Time is passed in; nothing sleeps.
#include "dispatch/dispatcher.hpp"

#include "sessions/tag.hpp"
#include "support/dispatch_fixture.hpp"

#include <doctest/doctest.h>

#include <set>

using lrsched::dispatch::FollowUp;
using lrsched::dispatch::Submit;
using lrsched::store::SessionState;
using lrsched::test::DispatchFixture;
using lrsched::test::job_yaml;
using lrsched::test::machine_id;
using lrsched::test::unwrap;

TEST_CASE(
    "dispatch goes by priority, then age, and within a run an offline-looking machine first "
    "while an offline slot is free") {
    DispatchFixture f;
    f.tenant.limits.concurrent_sessions = 10;
    f.tenant.limits.offline_slots = 5;
    f.tenant.limits.submit_rate = {10, std::chrono::milliseconds(1'000)};
    f.reload(0);
    f.add_run("low", job_yaml(10), {{1, false}}, 0);
    f.add_run("old", job_yaml(50), {{2, true}, {3, false}}, 1);
    f.add_run("new", job_yaml(50), {{4, false}}, 2);
    std::vector<std::string> order;
    for (int i = 0; i < 4; ++i)
        order.push_back(f.submit(10).machine_id);
    CHECK(order ==
          std::vector<std::string>{machine_id(2), machine_id(3), machine_id(4), machine_id(1)});
}

TEST_CASE("a submit is durable before it leaves and carries a unique tag in its Comment") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50, "comment: IR-1\n"), {{1, false}}, 0);
    const Submit s = f.submit(5);
    CHECK(f.state(s.session_id) == SessionState::submitting);
    const auto body = nlohmann::json::parse(s.body);
    const std::string comment = body["Comment"];
    CHECK(comment.find("IR-1") == 0);
    const auto tag = lrsched::sessions::find_tag(comment);
    REQUIRE(tag);
    CHECK(tag->session_id == s.session_id);
    CHECK(tag->install_id == f.store.install_id());
    CHECK(body["Commands"][0]["type"] == "GetFile");
}

TEST_CASE("the submit window is never exceeded, and a restart restores it") {
    DispatchFixture f;
    f.tenant.limits.concurrent_sessions = 10;
    f.reload(0);
    f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}, {3, false}, {4, false}}, 0);
    for (int i = 0; i < 3; ++i)
        f.created(f.submit(100 + i), 100 + i + 20);  // calls end 20 ms after they leave
    // Three calls ended at 120..122: the fourth may leave once the first is a window old.
    CHECK(f.idle(500).wake_at == 1'120);
    f.reload(600);  // a restart must not burst
    CHECK(f.idle(600).wake_at == 1'120);
    CHECK(f.submit(1'120).machine_id == machine_id(4));
}

TEST_CASE("the gate holds the slots and the offline share, an ended action frees its slot") {
    DispatchFixture f;  // 2 slots, 1 for offline-looking machines
    f.add_run("sweep", job_yaml(50), {{1, true}, {2, true}, {3, false}, {4, false}}, 0);
    // The offline share first: its wait on the server overlaps the others.
    const Submit a = f.submit(10);
    CHECK(a.machine_id == machine_id(1));
    f.created(a, 11);
    // The share is taken: the next offline-looking machine waits, an online one goes.
    const Submit b = f.submit(20);
    CHECK(b.machine_id == machine_id(3));
    f.created(b, 21);
    CHECK(f.idle(2'000).why == "every slot is held");
    CHECK(f.d->poll_every() < f.tenant.poll_interval.count());  // slots wanted: poll sooner
    f.d->on_listing({f.action(a, "Succeeded")}, 2'100);
    CHECK(f.state(a.session_id) == SessionState::collecting);  // the slot is free already
    CHECK(f.collect_all(2'100) == 1);
    CHECK(f.state(a.session_id) == SessionState::done);
    CHECK(f.d->take_wake());
    const Submit c = f.submit(2'200);  // the share is free again: the other offline one
    CHECK(c.machine_id == machine_id(2));
    f.created(c, 2'201);
    f.d->on_listing({f.action(b, "Succeeded")}, 2'300);
    CHECK(f.collect_all(2'300) == 1);
    // One slot is free and the offline share is taken: the online machine
    // does not wait for it.
    const Submit d = f.submit(2'400);
    CHECK(d.machine_id == machine_id(4));
    f.created(d, 2'401);
    CHECK(f.idle(2'500).why == "every slot is held");
}

TEST_CASE("a lost answer is looked up by tag, and the session is adopted when the action exists") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    CHECK(f.lost(s, 50) == FollowUp::reconcile);
    CHECK(f.d->lookups_due(50).empty());
    REQUIRE(f.d->lookups_due(1'050).size() == 1);
    f.d->on_lookup(s.session_id, {}, 1'050);  // not listed yet: the listing lags
    CHECK(f.state(s.session_id) == SessionState::submitting);
    f.d->on_lookup(s.session_id, {f.action(s, "InProgress")}, 2'100);
    const auto row = unwrap(f.store.find_session(s.session_id));
    CHECK(row->state == SessionState::running);
    CHECK(row->action_id == f.action(s, "InProgress").id);
    CHECK(row->submissions == 1);  // never sent twice
}

TEST_CASE("a lost answer with no action after the listing's lag is queued again under a new tag") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.lost(s, 50);
    CHECK(f.idle(100).why == "nothing to submit");  // its slot stays held meanwhile
    f.d->on_lookup(s.session_id, {}, 4'049);
    CHECK(f.state(s.session_id) == SessionState::submitting);
    f.d->on_lookup(s.session_id, {}, 4'050);  // listing_lag (4 s) after the call ended
    CHECK(f.state(s.session_id) == SessionState::queued);
    const Submit again = f.submit(4'100);
    CHECK(again.session_id == s.session_id);
    CHECK(again.tag != s.tag);
}

TEST_CASE("a call that never left is queued again without a lookup") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    lrsched::dispatch::SubmitAnswer a;
    a.net_error = lrsched::Error{lrsched::Errc::connect_failed, "refused"};
    a.request_sent = false;
    CHECK(f.d->submit_answered(s, a, 10) == FollowUp::none);
    CHECK(f.state(s.session_id) == SessionState::queued);
}

TEST_CASE("a busy machine waits busy_every, on a later submission busy is looked up first") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const std::string busy = R"({"error":{"code":"ActiveRequestAlreadyExists","message":"busy"}})";
    const Submit s = f.submit(0);
    CHECK(f.answer(s, 400, busy, 10) == FollowUp::none);
    CHECK(f.state(s.session_id) == SessionState::busy);
    CHECK(f.idle(100).wake_at == 5'010);
    const Submit again = f.submit(5'010);  // busy -> queued -> submitting
    CHECK(again.session_id == s.session_id);
    // Busy on the second submission may be our own first action, answer lost:
    CHECK(f.answer(again, 400, busy, 5'020) == FollowUp::reconcile);
    f.d->on_lookup(s.session_id, {}, 9'020);
    CHECK(f.state(s.session_id) == SessionState::busy);
}

TEST_CASE("401 refreshes the token once, a second 401 pauses the tenant") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}}, 0);
    const Submit a = f.submit(0);
    CHECK(f.answer(a, 401, "{}", 10) == FollowUp::refresh_token);
    CHECK(f.state(a.session_id) == SessionState::queued);
    const Submit b = f.submit(20);
    CHECK(f.answer(b, 401, "{}", 30) == FollowUp::none);
    CHECK(f.d->paused());
    CHECK(f.idle(40).why.find("tenant paused") == 0);
    CHECK(unwrap(f.store.tenant_state("contoso")).paused);
}

TEST_CASE("a 429 is obeyed to its Retry-After and loses nothing") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.answer(s, 429, "{}", 1'000, "7");
    CHECK(f.state(s.session_id) == SessionState::queued);
    CHECK(f.idle(1'500).wake_at == 8'000);
    CHECK(f.submit(8'000).session_id == s.session_id);
}

TEST_CASE("a job rejected the same way three times in a row is paused with the message") {
    DispatchFixture f;
    f.tenant.limits.submit_rate = {10, std::chrono::milliseconds(1'000)};
    f.tenant.limits.concurrent_sessions = 10;
    f.reload(0);
    f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}, {3, false}, {4, false}}, 0);
    const std::string missing =
        R"({"error":{"code":"BadRequest","message":"script.ps1 is not in the library"}})";
    for (int i = 0; i < 3; ++i) {
        const Submit s = f.submit(i * 10);
        f.answer(s, 400, missing, i * 10 + 1);
        CHECK(f.state(s.session_id) == SessionState::rejected);
    }
    CHECK(f.idle(100).why == "nothing to submit");
    const auto job = unwrap(f.store.find_job("sweep"));
    CHECK(job->paused);
    CHECK(job->paused_reason->find("not in the library") != std::string::npos);
}

TEST_CASE(
    "a pending action past queue_expiry expires, is cancelled and retried per retry.expired") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 10);
    CHECK(f.d->sweep(61'000).empty());  // expiry 60 s plus two polls of grace
    const auto cancels = f.d->sweep(62'000);
    REQUIRE(cancels.size() == 1);
    CHECK(cancels[0].action_id == f.action(s, "Pending").id);
    const auto row = unwrap(f.store.find_session(s.session_id));
    CHECK(row->state == SessionState::queued);  // expired, then retry.expired: 1
    CHECK(row->attempt == 2);
}

TEST_CASE("a run's deadline gives up what has not started and finishes the run") {
    DispatchFixture f;
    const auto run =
        f.add_run("sweep", job_yaml(50, "deadline: 10s\n"), {{1, false}, {2, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 10);  // pending on the server
    (void)f.d->sweep(10'000);
    const auto counts = unwrap(f.store.count_by_state(run));
    CHECK(counts.at(SessionState::gave_up) == 2);
    CHECK(unwrap(f.store.latest_run(unwrap(f.store.find_job("sweep"))->id))->finished_at);
    CHECK(f.d->next_timed_work() == std::nullopt);  // nothing left to wake for
}

TEST_CASE("a restart picks up sessions on the server and those whose answer was lost") {
    DispatchFixture f;
    f.tenant.limits.submit_rate = {10, std::chrono::milliseconds(1'000)};
    f.reload(0);
    f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}, {3, false}}, 0);
    const Submit a = f.submit(0);
    f.created(a, 5);
    const Submit b = f.submit(10);  // the daemon dies with this call in flight
    f.reload(100);
    CHECK(f.d->gate().held() == 2);
    CHECK(f.idle(100).why == "every slot is held");
    REQUIRE(f.d->lookups_due(100).size() == 1);
    CHECK(f.d->lookups_due(100)[0].session_id == b.session_id);
    f.d->on_listing({f.action(a, "Succeeded")}, 200);
    f.collect_all(200);
    CHECK(f.state(a.session_id) == SessionState::done);
    f.d->on_lookup(b.session_id, {f.action(b, "Pending")}, 300);
    CHECK(f.state(b.session_id) == SessionState::pending);
}

TEST_CASE("an ended action's completed results are collected, and a failed fetch is retried") {
    DispatchFixture f;
    f.add_run("sweep",
              "targets:\n  tags: [all]\ncommands:\n  - PutFile: tool.exe\n  - RunScript: "
              "run.ps1\n  - GetFile: 'C:\\out\\..\\r.csv'\n",
              {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 1);
    auto j = f.action_json(s, "Succeeded");
    j["commands"] = nlohmann::json::array();
    for (int i = 0; i < 3; ++i)
        j["commands"].push_back({{"index", i},
                                 {"commandStatus", "Completed"},
                                 {"command",
                                  {{"type", i == 0   ? "PutFile"
                                            : i == 1 ? "RunScript"
                                                     : "GetFile"}}}});
    f.d->on_listing({unwrap(lrsched::api::parse_machine_action(j.dump()))}, 100);
    CHECK(f.d->take_collect_wake());
    auto due = f.d->collections_due(100);
    REQUIRE(due.size() == 1);
    REQUIRE(due[0].items.size() == 2);  // never PutFile
    CHECK(due[0].items[0].name == "1-RunScript-run.ps1");
    CHECK(due[0].items[1].remote == "C:\\out\\..\\r.csv");
    CHECK(due[0].items[1].name == "2-GetFile-r.csv");
    CHECK(f.d->collections_due(100).empty());  // handed out once
    f.d->collect_failed(s.session_id, "disk full", 100);
    CHECK(unwrap(f.store.find_session(s.session_id))->last_error == "disk full");
    CHECK(f.d->collections_due(100).empty());  // backing off
    const auto again = f.d->next_collection();
    REQUIRE(again);
    CHECK(f.d->collections_due(*again).size() == 1);
    f.d->collected(s.session_id, {3, {}}, *again);
    const auto row = unwrap(f.store.find_session(s.session_id));
    CHECK(row->state == SessionState::done);
    CHECK(row->exit_code == 3);
}

TEST_CASE("a result left out by an evidence cap fails the session for good, naming it") {
    DispatchFixture f;
    // retry.failed: 2 would queue a failed session again; a cap would refuse
    // the same result again, so it must not.
    const auto run = f.add_run(
        "sweep",
        "targets:\n  tags: [all]\ncommands:\n  - GetFile: 'C:\\x.log'\nretry: {failed: 2}\n",
        {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 1);
    f.d->on_listing({f.action(s, "Succeeded")}, 100);
    REQUIRE(f.d->collections_due(100).size() == 1);
    f.d->collected(s.session_id, {std::nullopt, {"0-GetFile-x.log: over max_file_size (4 GB)"}},
                   100);
    const auto row = unwrap(f.store.find_session(s.session_id));
    CHECK(row->state == SessionState::failed);
    CHECK(row->attempt == 1);
    REQUIRE(row->last_error);
    CHECK(row->last_error->find("results not stored: 0-GetFile-x.log: over max_file_size") !=
          std::string::npos);
    CHECK(unwrap(f.store.latest_run(unwrap(f.store.find_job("sweep"))->id))->finished_at);
    CHECK(unwrap(f.store.count_by_state(run)).at(SessionState::failed) == 1);
}

TEST_CASE("withdrawing a job ends its queued sessions and leaves those on the server") {
    DispatchFixture f;
    const auto run = f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}, {3, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 1);
    f.d->withdraw_job("sweep", 100);
    const auto counts = unwrap(f.store.count_by_state(run));
    CHECK(counts.at(SessionState::withdrawn) == 2);
    CHECK(counts.at(SessionState::pending) == 1);
    f.d->on_listing({f.action(s, "Succeeded")}, 200);
    f.collect_all(200);
    CHECK(f.state(s.session_id) == SessionState::done);
    CHECK(unwrap(f.store.latest_run(unwrap(f.store.find_job("sweep"))->id))->finished_at);
}
