#include "sessions/policy.hpp"

#include <doctest/doctest.h>

using lrsched::api::ActionStatus;
using lrsched::api::CommandStatus;
using lrsched::api::MachineAction;
using lrsched::sessions::SessionState;
using namespace lrsched::sessions;

namespace {

MachineAction action(ActionStatus s, std::vector<std::pair<const char*, CommandStatus>> cmds = {}) {
    MachineAction a;
    a.id = "a";
    a.status = s;
    int i = 0;
    for (const auto& [type, status] : cmds) {
        lrsched::api::ActionCommand c;
        c.index = i++;
        c.type.assign(
            type);  // not aggregate init: g++ 12 -Wrestrict false positive (GCC bug 105329)
        c.status = status;
        a.commands.push_back(c);
    }
    return a;
}

}  // namespace

TEST_CASE("the server's action status moves the session forward only") {
    CHECK(state_for_action(SessionState::submitting, action(ActionStatus::pending)) ==
          SessionState::pending);
    CHECK(state_for_action(SessionState::pending, action(ActionStatus::in_progress)) ==
          SessionState::running);
    CHECK(state_for_action(SessionState::running, action(ActionStatus::succeeded)) ==
          SessionState::collecting);
    CHECK(state_for_action(SessionState::pending, action(ActionStatus::succeeded)) ==
          SessionState::collecting);
    CHECK_FALSE(state_for_action(SessionState::running, action(ActionStatus::pending))
                    .has_value());  // stale list
    CHECK_FALSE(state_for_action(SessionState::pending, action(ActionStatus::pending)).has_value());
    CHECK_FALSE(state_for_action(SessionState::running, action(ActionStatus::unknown)).has_value());
}

TEST_CASE("an action that timed out unreached expires, one with results is collected") {
    CHECK(state_for_action(
              SessionState::pending,
              action(ActionStatus::timed_out, {{"RunScript", CommandStatus::created}})) ==
          SessionState::expired);
    CHECK(state_for_action(SessionState::pending,
                           action(ActionStatus::timed_out, {{"RunScript", CommandStatus::completed},
                                                            {"GetFile", CommandStatus::failed}})) ==
          SessionState::collecting);
    CHECK(state_for_action(SessionState::running, action(ActionStatus::timed_out)) ==
          SessionState::collecting);
}

TEST_CASE("a cancelled action keeps the results of commands that completed") {
    CHECK(state_for_action(
              SessionState::running,
              action(ActionStatus::cancelled, {{"PutFile", CommandStatus::completed}})) ==
          SessionState::cancelled);
    CHECK(state_for_action(
              SessionState::running,
              action(ActionStatus::cancelled, {{"GetFile", CommandStatus::completed}})) ==
          SessionState::collecting);
    CHECK(state_after_collecting(action(ActionStatus::cancelled)) == SessionState::cancelled);
    CHECK(state_after_collecting(action(ActionStatus::succeeded)) == SessionState::done);
    CHECK(state_after_collecting(action(ActionStatus::failed)) == SessionState::failed);
    CHECK(state_after_collecting(action(ActionStatus::timed_out)) == SessionState::failed);
}

TEST_CASE("retries follow the job's retry counts") {
    lrsched::jobs::Retry r;
    r.failed = 1;
    r.expired = 2;
    CHECK(should_retry(SessionState::failed, 1, r));
    CHECK_FALSE(should_retry(SessionState::failed, 2, r));
    CHECK(should_retry(SessionState::expired, 2, r));
    CHECK_FALSE(should_retry(SessionState::expired, 3, r));
    CHECK_FALSE(should_retry(SessionState::rejected, 1, r));
    CHECK_FALSE(should_retry(SessionState::failed, 1, lrsched::jobs::Retry{}));
}

TEST_CASE("backoff is full jitter under an exponential ceiling and a cap") {
    CHECK(backoff_ms(1, 1000, 60'000, 0.999999) == 999);
    CHECK(backoff_ms(3, 1000, 60'000, 0.5) == 2000);
    CHECK(backoff_ms(10, 1000, 60'000, 0.5) == 30'000);
    CHECK(backoff_ms(1000, 1000, 60'000, 0.5) == 30'000);
    CHECK(backoff_ms(4, 1000, 60'000, 0.0) == 0);
}
