// The store's dispatcher state (schema 002): API call log, submit start,
// tenant pause/throttle, last cron firing, all surviving a reopen.
#include "store/store.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

using lrsched::Errc;
using lrsched::store::ApiCallKind;
using lrsched::store::NewSession;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::make_run;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

TEST_CASE("API calls are logged, ended, listed by window and pruned, across a reopen") {
    TempDir dir;
    const auto path = (dir.path() / "state.db").string();
    {
        auto s = unwrap(Store::open(path));
        const auto a = unwrap(s.begin_api_call("contoso", ApiCallKind::read, 1'000));
        unwrap(s.end_api_call(a, 1'200));
        const auto b = unwrap(s.begin_api_call("contoso", ApiCallKind::read, 5'000));
        (void)b;  // left in flight, as a crash would leave it
        unwrap(s.begin_api_call("contoso", ApiCallKind::submit, 5'000));
        unwrap(s.begin_api_call("fabrikam", ApiCallKind::read, 5'000));
        CHECK(s.end_api_call(999, 1).error().code == make_error_code(Errc::not_found));
    }
    auto s = unwrap(Store::open(path));
    auto reads = unwrap(s.api_calls_since("contoso", ApiCallKind::read, 0));
    REQUIRE(reads.size() == 2);
    CHECK(reads[0].ended_at == 1'200);
    CHECK_FALSE(reads[1].ended_at.has_value());
    // A call that ended before the window's start no longer counts; one in flight always does.
    reads = unwrap(s.api_calls_since("contoso", ApiCallKind::read, 1'200));
    REQUIRE(reads.size() == 1);
    CHECK(reads[0].started_at == 5'000);
    CHECK(unwrap(s.api_calls_since("contoso", ApiCallKind::submit, 0)).size() == 1);
    CHECK(unwrap(s.prune_api_calls(2'000)) == 1);
    CHECK(unwrap(s.api_calls_since("contoso", ApiCallKind::read, 0)).size() == 1);
}

TEST_CASE("begin_submit moves the session and logs the call in one transaction") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    const auto run = make_run(s);
    REQUIRE(unwrap(s.queue_sessions(run, {NewSession{std::string(40, 'a'), std::nullopt, false}},
                                    3'000)) == 1);
    const auto id = unwrap(s.sessions_of_run(run, std::nullopt)).at(0).id;
    const auto start = unwrap(s.begin_submit(id, "contoso", 4'000));
    CHECK(start.session.state == SessionState::submitting);
    CHECK(start.session.submissions == 1);
    CHECK(unwrap(s.api_calls_since("contoso", ApiCallKind::submit, 0)).at(0).id == start.call_id);

    // An illegal move writes neither the state nor the call.
    const auto again = s.begin_submit(id, "contoso", 5'000);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == make_error_code(Errc::illegal_transition));
    CHECK(unwrap(s.api_calls_since("contoso", ApiCallKind::submit, 0)).size() == 1);
}

TEST_CASE("tenant pause and throttle state persist and default to running") {
    TempDir dir;
    const auto path = (dir.path() / "state.db").string();
    {
        auto s = unwrap(Store::open(path));
        const auto fresh = unwrap(s.tenant_state("contoso"));
        CHECK_FALSE(fresh.paused);
        CHECK_FALSE(fresh.throttled_until.has_value());
        unwrap(s.set_tenant_throttled_until("contoso", 90'000));
        unwrap(s.set_tenant_paused("contoso", true, "second 401 after a token refresh"));
    }
    auto s = unwrap(Store::open(path));
    auto t = unwrap(s.tenant_state("contoso"));
    CHECK(t.paused);
    CHECK(t.paused_reason == "second 401 after a token refresh");
    CHECK(t.throttled_until == 90'000);
    unwrap(s.set_tenant_paused("contoso", false, ""));
    t = unwrap(s.tenant_state("contoso"));
    CHECK_FALSE(t.paused);
    CHECK_FALSE(t.paused_reason.has_value());
    CHECK(t.throttled_until == 90'000);
}

TEST_CASE("a job's last cron firing is kept and survives an upsert of its file") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    unwrap(s.upsert_job(lrsched::test::sample_job("nightly")));
    CHECK_FALSE(unwrap(s.find_job("nightly"))->last_fired_at.has_value());
    unwrap(s.set_job_last_fired("nightly", 86'400'000));
    unwrap(s.upsert_job(lrsched::test::sample_job("nightly")));
    CHECK(unwrap(s.find_job("nightly"))->last_fired_at == 86'400'000);
    CHECK(s.set_job_last_fired("nope", 1).error().code == make_error_code(Errc::not_found));
}
