// The operator's `lrsched cancel` inside the dispatcher: waiting sessions
// end at once, actions in flight are cancelled on the server and followed
// to their end, a submit whose outcome is unknown is cancelled once it is
// known, and nothing cancelled is ever retried or submitted again.
#include "support/dispatch_fixture.hpp"

#include <doctest/doctest.h>

using lrsched::dispatch::Submit;
using lrsched::store::SessionState;
using lrsched::test::DispatchFixture;
using lrsched::test::job_yaml;
using lrsched::test::unwrap;

namespace {

const std::string kRetryFailed =
    "targets:\n  tags: [all]\ncommands:\n  - GetFile: 'C:\\x.log'\npriority: 50\n"
    "retry: {failed: 3}\n";

std::int64_t count_in(DispatchFixture& f, std::int64_t run, SessionState s) {
    std::int64_t n = 0;
    for (const auto& row : unwrap(f.store.sessions_of_run(run, std::nullopt)))
        n += row.state == s ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE("cancel ends waiting sessions at once and cancels the pending action on the server") {
    DispatchFixture f;
    const auto run =
        f.add_run("sweep", kRetryFailed, {{1, false}, {2, false}, {3, false}, {4, false}}, 0);
    const Submit a = f.submit(0);
    f.created(a, 10);  // pending on the server
    const auto out = f.d->cancel_job("sweep", std::nullopt, 20);
    CHECK(out.runs == 1);
    CHECK(out.cancelled == 3);
    CHECK(out.on_server == 1);
    CHECK(count_in(f, run, SessionState::cancelled) == 3);
    const auto cancels = f.d->take_cancels();
    REQUIRE(cancels.size() == 1);
    CHECK(cancels[0].action_id == f.action(a, "Pending").id);
    CHECK(f.d->take_cancels().empty());  // handed out once
    CHECK(f.idle(30).why == "nothing to submit");
    // The server reports the action cancelled: the session ends cancelled,
    // and the run is over.
    f.d->on_listing({f.action(a, "Cancelled")}, 1'000);
    CHECK(f.state(a.session_id) == SessionState::cancelled);
    CHECK(unwrap(f.store.unfinished_runs()).empty());
}

TEST_CASE("a cancelled action that ended failed anyway is not retried") {
    DispatchFixture f;
    f.add_run("sweep", kRetryFailed, {{1, false}}, 0);
    const Submit a = f.submit(0);
    f.created(a, 10);
    f.d->on_listing({f.action(a, "InProgress")}, 500);
    f.d->cancel_job("sweep", std::nullopt, 600);
    REQUIRE(f.d->take_cancels().size() == 1);
    f.d->on_listing({f.action(a, "Failed")}, 1'000);
    f.collect_all(1'000);
    CHECK(f.state(a.session_id) == SessionState::failed);
    CHECK(f.idle(2'000).why == "nothing to submit");  // no retry
}

TEST_CASE("a submit whose answer was lost is cancelled once its action is found") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.lost(s, 50);
    const auto out = f.d->cancel_job("sweep", std::nullopt, 60);
    CHECK(out.on_server == 1);
    CHECK(f.d->take_cancels().empty());  // no action id yet
    f.d->on_lookup(s.session_id, {f.action(s, "Pending")}, 2'000);
    const auto cancels = f.d->take_cancels();
    REQUIRE(cancels.size() == 1);
    CHECK(cancels[0].action_id == f.action(s, "Pending").id);
}

TEST_CASE("a submit proved never created ends cancelled instead of being queued again") {
    DispatchFixture f;
    f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const Submit s = f.submit(0);
    f.lost(s, 50);
    f.d->cancel_job("sweep", std::nullopt, 60);
    f.d->on_lookup(s.session_id, {}, 4'050);  // past the listing's lag: never created
    CHECK(f.state(s.session_id) == SessionState::cancelled);
    CHECK(f.idle(4'100).why == "nothing to submit");
    CHECK(unwrap(f.store.find_session(s.session_id))->submissions == 1);
}

TEST_CASE("cancel --machine touches only that machine's session") {
    DispatchFixture f;
    const auto run = f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}, {3, false}}, 0);
    const auto out = f.d->cancel_job("sweep", lrsched::test::machine_id(2), 10);
    CHECK(out.cancelled == 1);
    CHECK(out.on_server == 0);
    CHECK(count_in(f, run, SessionState::cancelled) == 1);
    CHECK(count_in(f, run, SessionState::queued) == 2);
    const Submit next = f.submit(20);
    CHECK(next.machine_id != lrsched::test::machine_id(2));
}

TEST_CASE("cancel of another job leaves this one alone") {
    DispatchFixture f;
    const auto run = f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}}, 0);
    const auto out = f.d->cancel_job("other", std::nullopt, 10);
    CHECK(out.runs == 0);
    CHECK(out.cancelled == 0);
    CHECK(count_in(f, run, SessionState::queued) == 2);
}
