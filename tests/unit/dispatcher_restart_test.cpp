// Following sessions across a restart and a slow call (issue 10, B9 and
// B10): the listing starts at a session's submission however long it has
// pended, run or collected since; the listing's lag counts from the end of
// the submit call; a collecting session has a backstop that counts from
// when it started collecting, not from its last recorded error.
#include "support/dispatch_fixture.hpp"

#include <doctest/doctest.h>

using lrsched::dispatch::Submit;
using lrsched::store::SessionState;
using lrsched::test::DispatchFixture;
using lrsched::test::job_yaml;
using lrsched::test::unwrap;

TEST_CASE("after a restart the listing starts at the submission, not at the last state change") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(1'000);
    f.created(s, 1'200);
    // The machine came online long after the submit: running from 900 s on.
    f.d->on_listing({f.action(s, "InProgress")}, 900'000);
    REQUIRE(f.state(s.session_id) == SessionState::running);
    CHECK(f.d->poll_since() == 1'000);

    f.reload(960'000);
    // Listing from 900 s (less a margin) would miss the action, created at
    // 1 s: the running backstop would then fail it and cancel it.
    CHECK(f.d->poll_since() == 1'000);
    f.d->on_listing({f.action(s, "Succeeded")}, 961'000);
    CHECK(f.state(s.session_id) == SessionState::collecting);
    CHECK(f.collect_all(961'000) == 1);
    CHECK(f.state(s.session_id) == SessionState::done);
}

TEST_CASE("the running backstop counts from entering running, across a restart") {
    DispatchFixture f;  // runscript_timeout 10 s, poll 1 s: ends 12 s after running
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 100);
    f.d->on_listing({f.action(s, "InProgress")}, 50'000);
    f.reload(55'000);
    CHECK(f.d->sweep(61'999).empty());
    CHECK(f.state(s.session_id) == SessionState::running);
    CHECK(f.d->sweep(62'000).size() == 1);  // cancelled on the server
    CHECK(f.state(s.session_id) == SessionState::failed);
}

TEST_CASE("the listing's lag counts from the end of a slow submit call") {
    DispatchFixture f;  // listing_lag 4 s
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    // The call took 3 s and its answer was lost.
    CHECK(f.lost(s, 3'000) == lrsched::dispatch::FollowUp::reconcile);
    // 5 s after the call left but 2 s after it ended: the action may still
    // be invisible, so an empty lookup proves nothing yet.
    f.d->on_lookup(s.session_id, {}, 5'000);
    CHECK(f.state(s.session_id) == SessionState::submitting);
    f.d->on_lookup(s.session_id, {}, 7'000);
    CHECK(f.state(s.session_id) == SessionState::queued);
}

TEST_CASE("after a restart a submit in flight counts its lag from the restart") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    // The daemon stopped with the call in flight; it starts again at 10 s.
    f.reload(10'000);
    REQUIRE(f.d->lookups_due(10'000).size() == 1);
    f.d->on_lookup(s.session_id, {}, 12'000);
    CHECK(f.state(s.session_id) == SessionState::submitting);
    f.d->on_lookup(s.session_id, {}, 14'000);
    CHECK(f.state(s.session_id) == SessionState::queued);
}

TEST_CASE("a collecting session fails at collect_timeout, counted from when it began collecting") {
    DispatchFixture f;
    f.tenant.limits.collect_timeout = std::chrono::milliseconds(100'000);
    f.reload(0);
    f.add_run("sweep",
              "targets:\n  tags: [all]\ncommands:\n  - GetFile: 'C:\\x.log'\n"
              "retry: {failed: 2}\n",
              {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.created(s, 100);
    f.d->on_listing({f.action(s, "Succeeded")}, 10'000);
    REQUIRE(f.d->collections_due(10'000).size() == 1);
    // Every fetch fails (a full disk); the error is recorded at 50 s.
    f.d->collect_failed(s.session_id, "disk full", 50'000);
    CHECK(f.d->next_timed_work() <= 110'000);

    // After a restart the listing no longer shows the action.
    f.reload(60'000);
    f.d->on_listing({}, 61'000);
    CHECK(f.d->sweep(109'999).empty());
    CHECK(f.state(s.session_id) == SessionState::collecting);
    CHECK(f.d->sweep(110'000).empty());  // nothing to cancel: the action is over
    const auto row = unwrap(f.store.find_session(s.session_id));
    CHECK(row->state == SessionState::failed);
    CHECK(row->attempt == 1);  // not retried: the commands ran
    REQUIRE(row->last_error);
    CHECK(row->last_error->find("collect_timeout") != std::string::npos);
    CHECK(row->last_error->find("disk full") != std::string::npos);
}
