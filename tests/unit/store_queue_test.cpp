// The dispatcher's queue as the store serves it (schema 003).
#include "store/store.hpp"
#include "support/query_plan.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using lrsched::store::NewSession;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::make_run;
using lrsched::test::plan_text;
using lrsched::test::query_plan;
using lrsched::test::SqlRecorder;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {
std::string id_of(int i) {
    std::string s = std::to_string(i);
    return std::string(40 - s.size(), '0') + s;
}
}  // namespace

TEST_CASE("each run hands out its oldest queued session, online machines and offline ones apart") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    const auto run_a = make_run(s, "a");
    const auto run_b = make_run(s, "b");
    std::vector<NewSession> machines;
    for (int i = 0; i < 6; ++i)
        machines.push_back({id_of(i), std::nullopt, i % 3 == 0});
    REQUIRE(unwrap(s.queue_sessions(run_a, machines, 1'000)) == 6);
    REQUIRE(unwrap(s.queue_sessions(run_b, {NewSession{id_of(99), std::nullopt, false}}, 1'000)) ==
            1);
    CHECK(unwrap(s.runs_with_queued()) == std::vector<std::int64_t>{run_a, run_b});

    auto online = unwrap(s.oldest_queued(run_a, false));
    REQUIRE(online.has_value());
    CHECK(online->machine_id == id_of(1));
    auto offline = unwrap(s.oldest_queued(run_a, true));
    REQUIRE(offline.has_value());
    CHECK(offline->machine_id == id_of(0));

    // Taken for submission: the next one comes up.
    unwrap(s.begin_submit(online->id, "contoso", 2'000));
    CHECK(unwrap(s.oldest_queued(run_a, false))->machine_id == id_of(2));

    // A run whose last queued session leaves is no longer listed.
    const auto only_b = unwrap(s.oldest_queued(run_b, false));
    unwrap(s.transition(only_b->id, SessionState::withdrawn, {}, 3'000));
    CHECK(unwrap(s.runs_with_queued()) == std::vector<std::int64_t>{run_a});
    CHECK_FALSE(unwrap(s.oldest_queued(run_b, false)).has_value());
}

TEST_CASE("busy sessions wake at the earliest not_before") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    const auto run = make_run(s);
    REQUIRE(unwrap(s.queue_sessions(
                run, {{id_of(1), std::nullopt, false}, {id_of(2), std::nullopt, false}}, 0)) == 2);
    CHECK_FALSE(unwrap(s.next_busy_wake()).has_value());
    const auto sessions = unwrap(s.sessions_of_run(run, std::nullopt));
    for (const auto& [session, wake] :
         {std::pair{sessions[0].id, 90'000}, std::pair{sessions[1].id, 60'000}}) {
        unwrap(s.begin_submit(session, "contoso", 1'000));
        lrsched::store::TransitionDetail d;
        d.not_before = wake;
        d.error = "ActiveRequestAlreadyExists";
        unwrap(s.transition(session, SessionState::busy, d, 1'000));
    }
    CHECK(unwrap(s.next_busy_wake()) == 60'000);
}

TEST_CASE("the dispatcher's queue queries seek their index, never scan sessions") {
    // The plan, not a timing: how long 100 picks from 100,000 take is a
    // figure of tests/bench/store_bench.cpp.
    SqlRecorder recorder;
    TempDir dir;
    const std::string path = (dir.path() / "state.db").string();
    auto s = unwrap(Store::open(path));
    const auto run = make_run(s);
    std::vector<NewSession> machines;
    for (int i = 0; i < 1'000; ++i)
        machines.push_back({id_of(i), std::nullopt, i % 4 == 0});
    REQUIRE(unwrap(s.queue_sessions(run, machines, 0)) == 1'000);
    for (int i = 0; i < 10; ++i) {
        const auto next = unwrap(s.oldest_queued(run, false));
        REQUIRE(next.has_value());
        unwrap(s.begin_submit(next->id, "contoso", 1'000 + i));
    }
    REQUIRE(unwrap(s.oldest_queued(run, true)).has_value());
    CHECK(unwrap(s.runs_with_queued()) == std::vector<std::int64_t>{run});
    (void)unwrap(s.next_busy_wake());
    (void)unwrap(s.busy_due(5'000));

    // The pick: one seek on the partial index, in its order (no sort).
    const auto pick = recorder.matching("state = 'queued' AND run_id");
    REQUIRE(pick.size() == 1);
    const auto plan = query_plan(path, pick[0]);
    INFO("plan of " << pick[0] << ":\n" << plan_text(plan));
    CHECK(plan_text(plan).find("SEARCH sessions USING INDEX sessions_queued") != std::string::npos);
    CHECK(plan_text(plan).find("TEMP B-TREE") == std::string::npos);

    // Every queue query reads an index, never the whole table.
    const auto queue_queries = recorder.matching("FROM sessions WHERE state =");
    CHECK(queue_queries.size() >= 4);
    for (const auto& sql : queue_queries) {
        const auto p = query_plan(path, sql);
        INFO("plan of " << sql << ":\n" << plan_text(p));
        for (const auto& line : p)
            CHECK_FALSE(
                (line.rfind("SCAN sessions", 0) == 0 && line.find("INDEX") == std::string::npos));
    }
}
