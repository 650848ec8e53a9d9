#include "sessions/session_state.hpp"
#include "store/store.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

using lrsched::Errc;
using lrsched::sessions::kAllStates;
using lrsched::sessions::to_string;
using lrsched::sessions::transition_allowed;
using lrsched::store::EventRow;
using lrsched::store::NewSession;
using lrsched::store::SessionRow;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::store::TransitionDetail;
using lrsched::test::make_run;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

// The shortest sequence of legal moves from queued to `target` (empty for
// queued itself), found by breadth-first search over the transition table.
std::vector<SessionState> path_from_queued(SessionState target) {
    std::map<SessionState, SessionState> parent;
    std::deque<SessionState> frontier{SessionState::queued};
    parent.emplace(SessionState::queued, SessionState::queued);
    while (!frontier.empty()) {
        const SessionState s = frontier.front();
        frontier.pop_front();
        for (const SessionState next : kAllStates) {
            if (transition_allowed(s, next) && parent.emplace(next, s).second) {
                frontier.push_back(next);
            }
        }
    }
    REQUIRE_MESSAGE(parent.contains(target), "unreachable from queued: " << to_string(target));
    std::vector<SessionState> path;
    for (SessionState s = target; s != SessionState::queued; s = parent.at(s)) {
        path.insert(path.begin(), s);
    }
    return path;
}

// Designated initializers would read better, but g++ 12 flags the omitted
// members under -Wmissing-field-initializers.
TransitionDetail with_detail(std::string text) {
    TransitionDetail d;
    d.detail = std::move(text);
    return d;
}

bool same_row(const SessionRow& a, const SessionRow& b) {
    return a.state == b.state && a.attempt == b.attempt && a.submissions == b.submissions &&
           a.action_id == b.action_id && a.not_before == b.not_before &&
           a.exit_code == b.exit_code && a.updated_at == b.updated_at &&
           a.last_error == b.last_error;
}

struct Fixture {
    TempDir dir;
    Store store = unwrap(Store::open((dir.path() / "t.db").string()));
    std::int64_t run_id = make_run(store);

    SessionRow queue_one(const std::string& machine) {
        const std::size_t n =
            unwrap(store.queue_sessions(run_id, {NewSession{machine, std::nullopt, false}}, 100));
        REQUIRE(n == 1);
        for (const auto& s : unwrap(store.sessions_of_run(run_id, SessionState::queued))) {
            if (s.machine_id == machine) return s;
        }
        FAIL("queued session not found");
        return {};
    }

    SessionRow move(std::int64_t id, SessionState to, std::int64_t now = 200) {
        return unwrap(store.transition(id, to, {}, now));
    }
};

}  // namespace

TEST_CASE("every legal transition is accepted and every illegal one refused with nothing written") {
    Fixture f;
    int legal = 0;
    int illegal = 0;
    for (const SessionState from : kAllStates) {
        const auto path = path_from_queued(from);
        for (const SessionState to : kAllStates) {
            CAPTURE(to_string(from));
            CAPTURE(to_string(to));
            const std::string machine =
                std::string(to_string(from)) + "->" + std::string(to_string(to));
            const SessionRow queued = f.queue_one(machine);
            for (const SessionState step : path)
                f.move(queued.id, step);
            const SessionRow before = *unwrap(f.store.find_session(queued.id));
            const std::vector<EventRow> events_before = unwrap(f.store.events_of(queued.id));
            REQUIRE(before.state == from);

            auto r = f.store.transition(queued.id, to, with_detail("probe"), 9'999);
            const SessionRow after = *unwrap(f.store.find_session(queued.id));
            const std::vector<EventRow> events_after = unwrap(f.store.events_of(queued.id));
            if (transition_allowed(from, to)) {
                ++legal;
                REQUIRE(r.ok());
                CHECK(r->state == to);
                CHECK(after.state == to);
                CHECK(after.updated_at == 9'999);
                REQUIRE(events_after.size() == events_before.size() + 1);
                CHECK(events_after.back().from_state == from);
                CHECK(events_after.back().to_state == to);
                CHECK(events_after.back().at == 9'999);
                CHECK(events_after.back().detail == "probe");
            } else {
                ++illegal;
                REQUIRE_FALSE(r.ok());
                CHECK(r.error().code == Errc::illegal_transition);
                const std::string& message = r.error().message;
                CHECK(message.find("session " + std::to_string(queued.id)) != std::string::npos);
                CHECK(message.find(std::string(to_string(from)) + " -> " +
                                   std::string(to_string(to))) != std::string::npos);
                CHECK(same_row(before, after));
                CHECK(events_after.size() == events_before.size());
            }
        }
    }
    CHECK(legal == 29);
    CHECK(legal + illegal == 14 * 14);
}

TEST_CASE("a transition of a session that does not exist is reported as not found") {
    Fixture f;
    auto r = f.store.transition(12345, SessionState::submitting, {}, 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
}

TEST_CASE("submissions count entries into submitting and retries count attempts") {
    Fixture f;
    const SessionRow s = f.queue_one("host-1");
    CHECK(f.store.correlation_tag(s) ==
          "lrsched:" + f.store.install_id() + ":" + std::to_string(s.id) + ":0");

    SessionRow r = f.move(s.id, SessionState::submitting);
    CHECK(r.submissions == 1);
    CHECK(r.attempt == 1);
    const std::string first_tag = f.store.correlation_tag(r);
    CHECK(first_tag == "lrsched:" + f.store.install_id() + ":" + std::to_string(s.id) + ":1");

    // Busy, then queued again: the same attempt, a second submission.
    f.move(s.id, SessionState::busy);
    r = f.move(s.id, SessionState::queued);
    CHECK(r.attempt == 1);
    r = f.move(s.id, SessionState::submitting);
    CHECK(r.submissions == 2);
    CHECK(f.store.correlation_tag(r) != first_tag);

    // The action ran and failed: retry.failed queues a new attempt.
    f.move(s.id, SessionState::pending);
    f.move(s.id, SessionState::collecting);
    f.move(s.id, SessionState::failed);
    r = f.move(s.id, SessionState::queued);
    CHECK(r.attempt == 2);
    CHECK(r.submissions == 2);

    // Expired on the server: retry.expired queues another.
    f.move(s.id, SessionState::submitting);
    f.move(s.id, SessionState::pending);
    f.move(s.id, SessionState::expired);
    r = f.move(s.id, SessionState::queued);
    CHECK(r.attempt == 3);
    CHECK(r.submissions == 3);
    CHECK(f.store.correlation_tag(r) ==
          "lrsched:" + f.store.install_id() + ":" + std::to_string(s.id) + ":3");

    // What transition returned is what was stored, and the log has the attempts.
    const SessionRow stored = *unwrap(f.store.find_session(s.id));
    CHECK(same_row(stored, r));
    const auto events = unwrap(f.store.events_of(s.id));
    CHECK(events.size() == 13);
    CHECK(events.back().attempt == 3);
    CHECK(events.back().from_state == SessionState::expired);
}

TEST_CASE("transition details are stored as documented on TransitionDetail") {
    Fixture f;
    const SessionRow s = f.queue_one("host-2");
    f.move(s.id, SessionState::submitting);
    TransitionDetail created = with_detail("created");
    created.action_id = "act-9";
    SessionRow r = unwrap(f.store.transition(s.id, SessionState::pending, created, 300));
    CHECK(r.action_id == "act-9");
    r = f.move(s.id, SessionState::running, 400);  // nothing given: action_id kept
    CHECK(r.action_id == "act-9");
    TransitionDetail ended = with_detail("ended");
    ended.error = "command 2 failed";
    ended.exit_code = 3;
    r = unwrap(f.store.transition(s.id, SessionState::collecting, ended, 500));
    CHECK(r.exit_code == 3);
    CHECK(r.last_error == "command 2 failed");
    const auto events = unwrap(f.store.events_of(s.id));
    CHECK(events.back().detail == "ended; error: command 2 failed");
    CHECK(events.back().action_id == "act-9");

    r = f.move(s.id, SessionState::failed, 600);
    CHECK(r.exit_code == 3);
    TransitionDetail retry;
    retry.not_before = 10'000;
    r = unwrap(f.store.transition(s.id, SessionState::queued, retry, 700));
    CHECK(r.action_id == std::nullopt);  // the old action is over
    CHECK(r.exit_code == std::nullopt);
    CHECK(r.last_error == "command 2 failed");  // the last error is kept
    CHECK(r.not_before == 10'000);
    r = f.move(s.id, SessionState::submitting, 800);
    CHECK(r.not_before == std::nullopt);  // only meant for the state it was given with
    CHECK(r.updated_at == 800);
}
