#include "limits/concurrency_gate.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using lrsched::limits::ConcurrencyGate;
using lrsched::limits::GateLimits;
using lrsched::limits::slot_class;
using lrsched::limits::SlotClass;
using lrsched::sessions::SessionState;

namespace {

struct Session {
    SessionState state = SessionState::queued;
    bool offline = false;
};

// The brute-force reference: recount every session from scratch.
bool reference_allows(const std::vector<Session>& all, const GateLimits& l, bool target_offline) {
    int held = 0;
    int held_offline = 0;
    for (const auto& s : all) {
        const bool pending = s.state == SessionState::pending;
        const bool holds = s.state == SessionState::submitting ||
                           s.state == SessionState::running || (pending && l.pending_counts);
        if (holds) ++held;
        if (holds && s.offline && s.state != SessionState::running) ++held_offline;
    }
    if (held >= l.slots) return false;
    if (target_offline && l.pending_counts && held_offline >= l.offline_slots) return false;
    return true;
}

// The moves a session may make that change its slot, from the SPEC §3 table.
SessionState next_state(SessionState s, std::mt19937& rng) {
    const auto pick = [&](std::initializer_list<SessionState> options) {
        return *(options.begin() +
                 std::uniform_int_distribution<std::size_t>(0, options.size() - 1)(rng));
    };
    switch (s) {
        case SessionState::queued:
            return SessionState::submitting;
        case SessionState::submitting:
            return pick({SessionState::pending, SessionState::running, SessionState::busy,
                         SessionState::queued, SessionState::collecting});
        case SessionState::pending:
            return pick({SessionState::running, SessionState::collecting, SessionState::expired});
        case SessionState::running:
            return SessionState::collecting;
        case SessionState::busy:
            return SessionState::queued;
        case SessionState::collecting:
            return pick({SessionState::done, SessionState::failed});
        default:
            return s;
    }
}

}  // namespace

TEST_CASE("the gate fills the slots, then refuses") {
    ConcurrencyGate g({3, 1, true});
    for (int i = 0; i < 3; ++i) {
        REQUIRE(g.allows(false));
        g.move(SlotClass::none, SlotClass::submitting_online);
    }
    CHECK_FALSE(g.allows(false));
    g.move(SlotClass::submitting_online, SlotClass::none);  // proved never created
    CHECK(g.allows(false));
}

TEST_CASE("offline machines get at most offline_slots while pending, and never block online ones") {
    ConcurrencyGate g({5, 2, true});
    g.move(SlotClass::none, SlotClass::submitting_offline);
    g.move(SlotClass::submitting_offline, SlotClass::pending_offline);
    g.move(SlotClass::none, SlotClass::submitting_offline);
    CHECK_FALSE(g.allows(true));                             // two offline slots held
    CHECK(g.allows(false));                                  // online machines still go
    g.move(SlotClass::pending_offline, SlotClass::running);  // the machine came online
    CHECK(g.allows(true));
    CHECK(g.held() == 2);
}

TEST_CASE("when the server does not count Pending, pending sessions hold no slot") {
    ConcurrencyGate g({2, 1, false});
    for (int i = 0; i < 10; ++i) {
        g.move(SlotClass::none, SlotClass::pending_offline);
        g.move(SlotClass::none, SlotClass::pending_online);
    }
    CHECK(g.held() == 0);
    CHECK(g.allows(true));
    CHECK(g.allows(false));
}

TEST_CASE("the gate's counters agree with a recount over random session lives") {
    std::mt19937 rng(42);
    for (const bool pending_counts : {true, false}) {
        const GateLimits limits{8, 3, pending_counts};
        ConcurrencyGate g(limits);
        std::vector<Session> all(40);
        for (auto& s : all)
            s.offline = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
        int refused = 0;
        for (int step = 0; step < 20'000; ++step) {
            auto& s = all[std::uniform_int_distribution<std::size_t>(0, all.size() - 1)(rng)];
            if (s.state == SessionState::queued) {
                const bool want = g.allows(s.offline);
                REQUIRE(want == reference_allows(all, limits, s.offline));
                if (!want) {
                    ++refused;
                    continue;
                }
            }
            const SessionState to = next_state(s.state, rng);
            g.move(slot_class(s.state, s.offline), slot_class(to, s.offline));
            s.state = to;
            if (lrsched::sessions::is_terminal(to))
                s = Session{SessionState::queued, s.offline};  // recycle
            // With Pending counted, nothing but a gated submit takes a slot.
            if (pending_counts) REQUIRE(g.held() <= limits.slots);
        }
        CHECK(refused > 0);  // the gate was exercised at its limits
    }
}
