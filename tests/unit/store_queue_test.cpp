// The dispatcher's queue as the store serves it (schema 003).
#include "store/store.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>

using lrsched::store::NewSession;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::make_run;
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

TEST_CASE("picking from a queue of 100,000 is one index seek") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    const auto run = make_run(s);
    std::vector<NewSession> machines;
    for (int i = 0; i < 100'000; ++i)
        machines.push_back({id_of(i), std::nullopt, false});
    REQUIRE(unwrap(s.queue_sessions(run, machines, 0)) == 100'000);
    const auto started = std::chrono::steady_clock::now();  // reported, never asserted
    for (int i = 0; i < 100; ++i) {
        const auto next = unwrap(s.oldest_queued(run, false));
        REQUIRE(next.has_value());
        CHECK(next->machine_id == id_of(i));
        unwrap(s.begin_submit(next->id, "contoso", 1'000 + i));
    }
    MESSAGE("100 picks from 100,000 queued took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms (including 100 begin_submit transactions)");
}
