// dispatch::estimate_run and friends (issue 11, item 4): the arithmetic of
// `lrsched plan`'s estimate and `lrsched status`'s ETA, with `now` an
// argument. Expected values are worked out by hand in the comments from the
// model in estimate.hpp; the last cases check properties over a grid.
#include "dispatch/estimate.hpp"

#include <doctest/doctest.h>

#include <vector>

using lrsched::Millis;
using lrsched::dispatch::approx_duration;
using lrsched::dispatch::Blocked;
using lrsched::dispatch::describe;
using lrsched::dispatch::estimate_run;
using lrsched::dispatch::EstimateLimits;
using lrsched::dispatch::InFlight;
using lrsched::dispatch::kDefaultSessionMs;
using lrsched::dispatch::median;
using lrsched::dispatch::run_work;
using lrsched::dispatch::RunWork;
using lrsched::dispatch::session_times;
using lrsched::dispatch::SessionTimes;
using lrsched::dispatch::source_word;
using lrsched::dispatch::TimesSource;
using lrsched::store::SampleSource;
using lrsched::store::SessionSamples;
using lrsched::store::SessionState;

namespace {

constexpr Millis kNow = 1'700'000'000'000;

// The simulated tenant: 10 submits per 3 s, 10 slots, 3 of them
// for offline machines, a 15 s queue expiry.
EstimateLimits sim_limits() {
    EstimateLimits l;
    l.submit_calls = 10;
    l.submit_per = 3'000;
    l.concurrent_sessions = 10;
    l.offline_slots = 3;
    l.pending_counts = true;
    l.queue_expiry = 15'000;
    return l;
}

SessionTimes measured(Millis online, std::optional<Millis> offline = std::nullopt) {
    SessionTimes t;
    t.source = TimesSource::job;
    t.runs = 3;
    t.sessions = 100;
    t.online_ms = online;
    t.offline_ms = offline;
    t.offline_sessions = offline ? 10 : 0;
    return t;
}

RunWork queued(std::int64_t online, std::int64_t offline = 0) {
    RunWork w;
    w.queued_online = online;
    w.queued_offline = offline;
    return w;
}

}  // namespace

TEST_CASE("median: the middle value, the mean of the two middle ones, whatever the order") {
    CHECK(median({41'000}) == 41'000);
    CHECK(median({3, 1, 2}) == 2);
    CHECK(median({4, 1, 3, 2}) == 2);  // (2 + 3) / 2, rounded down
    CHECK(median({10, 20}) == 15);
    CHECK(median({5, 5, 5, 100'000}) == 5);  // one straggler does not move it
}

TEST_CASE("session times: medians of the samples, or the documented default said as such") {
    SUBCASE("no measurements: 2 minutes assumed") {
        const SessionTimes t = session_times(SessionSamples{});
        CHECK(t.source == TimesSource::assumed);
        CHECK(t.online_ms == kDefaultSessionMs);
        CHECK(t.online_ms == 120'000);
        CHECK_FALSE(t.offline_ms);
        CHECK(std::string(source_word(t.source)) == "default");
        CHECK(describe(t) == "no measurements yet: 2m per session assumed");
    }
    SUBCASE("offline samples alone are not a measurement of online sessions") {
        SessionSamples s;
        s.source = SampleSource::none;
        s.offline = {15'000};
        CHECK(session_times(s).source == TimesSource::assumed);
    }
    SUBCASE("one sample is the figure") {
        SessionSamples s;
        s.source = SampleSource::job_runs;
        s.runs = 1;
        s.online = {41'000};
        const SessionTimes t = session_times(s);
        CHECK(t.source == TimesSource::job);
        CHECK(t.online_ms == 41'000);
        CHECK(t.sessions == 1);
        CHECK(describe(t) == "from this job's last run: median 41s per session");
    }
    SUBCASE("the job's runs, online and offline apart") {
        SessionSamples s;
        s.source = SampleSource::job_runs;
        s.runs = 3;
        s.online = {40'000, 41'000, 90'000};
        s.offline = {15'000, 2'000, 15'000, 15'000};
        const SessionTimes t = session_times(s);
        CHECK(t.online_ms == 41'000);
        REQUIRE(t.offline_ms);
        CHECK(*t.offline_ms == 15'000);
        CHECK(t.offline_sessions == 4);
        CHECK(std::string(source_word(t.source)) == "job");
        CHECK(describe(t) == "from this job's last 3 runs: median 41s per session");
    }
    SUBCASE("the tenant's recent sessions") {
        SessionSamples s;
        s.source = SampleSource::tenant_sessions;
        s.online = std::vector<std::int64_t>(190, 4'200);
        s.offline = std::vector<std::int64_t>(10, 15'000);
        const SessionTimes t = session_times(s);
        CHECK(t.source == TimesSource::tenant);
        CHECK(std::string(source_word(t.source)) == "tenant");
        CHECK(describe(t) == "from the tenant's last 200 sessions: median 4.2s per session");
    }
}

TEST_CASE("durations for people: tenths below 10 s, then the two largest units") {
    CHECK(approx_duration(0) == "0.0s");
    CHECK(approx_duration(420) == "0.4s");
    CHECK(approx_duration(4'249) == "4.2s");
    CHECK(approx_duration(9'940) == "9.9s");
    CHECK(approx_duration(41'400) == "41s");
    CHECK(approx_duration(59'600) == "1m");
    CHECK(approx_duration(120'000) == "2m");
    CHECK(approx_duration(125'000) == "2m 5s");
    CHECK(approx_duration(3 * 3'600'000 + 5 * 60'000 + 20'000) == "3h 5m");
    CHECK(approx_duration(2 * 86'400'000 + 4 * 3'600'000) == "2d 4h");
    CHECK(approx_duration(-5) == "0.0s");
}

TEST_CASE("estimate: online sessions bound by the slots") {
    // 200 online at 4 s: the last submit leaves at floor(199/10) * 3 s = 57 s;
    // 200 * 4 s of work through 10 slots (no offline session holds one) = 80 s.
    const auto e = estimate_run(queued(200), measured(4'000), sim_limits(), kNow);
    CHECK(e.blocked == Blocked::no);
    CHECK(e.to_submit == 200);
    CHECK(e.submits == 57'000);
    CHECK(e.online_slots == 10);
    CHECK(e.online == 80'000);
    CHECK(e.offline == 0);
    CHECK(e.duration == 80'000);
    CHECK(e.end_at == kNow + 80'000);
    CHECK(e.overdue == 0);
}

TEST_CASE("estimate: online sessions bound by the submit rate") {
    // 200 online at 1 s: 20 s of slot work, but the last submit leaves at
    // 57 s and then takes its 1 s.
    const auto e = estimate_run(queued(200), measured(1'000), sim_limits(), kNow);
    CHECK(e.online == 58'000);
    CHECK(e.duration == 58'000);
}

TEST_CASE("estimate: nothing waits and nothing is on the server: the run ends now") {
    const auto e = estimate_run(RunWork{}, measured(4'000), sim_limits(), kNow);
    CHECK(e.blocked == Blocked::no);
    CHECK(e.to_submit == 0);
    CHECK(e.submits == 0);
    CHECK(e.duration == 0);
    CHECK(e.end_at == kNow);
}

TEST_CASE("estimate: the issue's fleet, offline machines waiting out the queue in parallel") {
    // 190 online at 2 s and 10 never-online machines through 3 offline
    // slots at queue_expiry (15 s): rounds end at 15, 30, 45 and 60 s (the
    // tenth alone); the offline slots are held 3 deep to 45 s, 1 to 60 s.
    // Online: 380 s of work through 7 slots (315 s by 45 s), the rest
    // through 9: 45 + 65/9 = 52.2 s; but the last submit leaves at 57 s, so
    // 59 s. The run: 60 s, the bound.
    const auto e = estimate_run(queued(190, 10), measured(2'000), sim_limits(), kNow);
    CHECK(e.to_submit == 200);
    CHECK(e.submits == 57'000);
    CHECK(e.online_slots == 7);
    CHECK(e.offline_each == 15'000);
    CHECK_FALSE(e.offline_measured);
    CHECK(e.offline == 60'000);
    CHECK(e.online == 59'000);
    CHECK(e.duration == 60'000);
}

TEST_CASE("estimate: measured offline sessions wait their measured time, not queue_expiry") {
    // 10 offline at a measured 5 s through 3 slots: 5, 10, 15, 20 s.
    const auto e = estimate_run(queued(0, 10), measured(2'000, 5'000), sim_limits(), kNow);
    CHECK(e.offline_measured);
    CHECK(e.offline_each == 5'000);
    CHECK(e.offline == 20'000);
    CHECK(e.online == 0);
    CHECK(e.duration == 20'000);
}

TEST_CASE("estimate: offline slots as many as the slots leave online sessions none at first") {
    // offline_slots == concurrent_sessions == 10, 12 offline at 15 s, 20
    // online at 4 s. Offline: 10 from 0 to 15 s, the last 2 (submitted at
    // 3 s) from 15 to 30 s. Online: no slot until 15 s, then 8: 80 s of work
    // / 8 = 10 s, so 25 s. The run: 30 s. No division by zero.
    EstimateLimits l = sim_limits();
    l.offline_slots = 10;
    const auto e = estimate_run(queued(20, 12), measured(4'000), l, kNow);
    CHECK(e.online_slots == 0);
    CHECK(e.offline == 30'000);
    CHECK(e.online == 25'000);
    CHECK(e.duration == 30'000);
}

TEST_CASE("estimate: pending sessions that hold no slot all wait side by side") {
    // pending_counts_as_running: false: 12 offline, the last submitted at
    // floor(11/10) * 3 s = 3 s, each waiting 15 s: 18 s. Online sessions
    // keep all 10 slots.
    EstimateLimits l = sim_limits();
    l.pending_counts = false;
    const auto e = estimate_run(queued(20, 12), measured(4'000), l, kNow);
    CHECK(e.online_slots == 10);
    CHECK(e.offline == 18'000);
    // 32 submits: the last at 9 s, + 4 s; 80 s of work / 10 = 8 s.
    CHECK(e.online == 13'000);
    CHECK(e.duration == 18'000);
}

TEST_CASE("estimate: no measurements yet: 2 minutes per session") {
    // 10 online at 120 s through 10 slots: all submitted at once, 120 s.
    const auto e = estimate_run(queued(10), session_times(SessionSamples{}), sim_limits(), kNow);
    CHECK(e.duration == 120'000);
    // 25 online: 3000 s of work through 10 slots = 300 s.
    CHECK(estimate_run(queued(25), session_times(SessionSamples{}), sim_limits(), kNow).duration ==
          300'000);
}

TEST_CASE("estimate: one measurement is enough to estimate from") {
    SessionSamples s;
    s.source = SampleSource::tenant_sessions;
    s.online = {6'000};
    // 20 online at 6 s through 10 slots: 12 s (the last submit leaves at 3 s, + 6 s = 9 s).
    const auto e = estimate_run(queued(20), session_times(s), sim_limits(), kNow);
    CHECK(e.duration == 12'000);
}

TEST_CASE("estimate: sessions on the server take what is left of their typical time") {
    RunWork w;
    w.in_flight = {{false, 1'000}, {false, 2'500}};
    // 4 s each: 3 s and 1.5 s left.
    const auto e = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(e.overdue == 0);
    CHECK(e.online == 3'000);
    CHECK(e.end_at == kNow + 3'000);

    // Offline-looking ones pending: what is left of queue_expiry.
    RunWork off;
    off.in_flight = {{true, 5'000}};
    CHECK(estimate_run(off, measured(4'000), sim_limits(), kNow).offline == 10'000);
}

TEST_CASE("estimate: a run already past its estimate ends 'now', its overdue sessions counted") {
    RunWork w;
    w.in_flight = {{false, 9'000}, {false, 4'000}, {true, 20'000}};
    const auto e = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(e.overdue == 3);
    CHECK(e.duration == 0);
    CHECK(e.end_at == kNow);

    // With sessions still waiting, the overdue ones add nothing: their
    // slots count as free from now. 10 queued at 4 s through 10 slots.
    w.queued_online = 10;
    const auto f = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(f.overdue == 3);
    CHECK(f.duration == 4'000);
}

TEST_CASE("estimate: a session pending past its typical time waits up to queue_expiry") {
    // Pending for 5 s where sessions take 4 s: its machine is not there; the
    // server (or the daemon's backstop) ends it 15 s after its submission.
    RunWork w;
    w.in_flight = {{false, 5'000, true}};
    auto e = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(e.stalled == 1);
    CHECK(e.overdue == 0);
    CHECK(e.duration == 10'000);
    // Running past it: no bound known, it ends "now".
    w.in_flight = {{false, 5'000, false}};
    e = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(e.stalled == 0);
    CHECK(e.overdue == 1);
    CHECK(e.duration == 0);
    // Pending past queue_expiry too: overdue.
    w.in_flight = {{false, 16'000, true}};
    e = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(e.stalled == 0);
    CHECK(e.overdue == 1);
    CHECK(e.duration == 0);
    // An offline-looking one past the measured 5 s holds its offline slot
    // until queue_expiry: a queued offline one on the only slot goes then.
    EstimateLimits one = sim_limits();
    one.offline_slots = 1;
    w = queued(0, 1);
    w.in_flight = {{true, 6'000, true}};
    e = estimate_run(w, measured(4'000, 5'000), one, kNow);
    CHECK(e.stalled == 1);
    CHECK(e.offline == 9'000 + 5'000);
}

TEST_CASE("estimate: sessions on offline slots delay the queued offline ones") {
    // One offline slot, two pending offline sessions (10 s and 5 s left of
    // 15 s): a third can go only when the count drops below one, at 10 s,
    // and waits 15 s: 25 s.
    EstimateLimits l = sim_limits();
    l.offline_slots = 1;
    RunWork w = queued(0, 1);
    w.in_flight = {{true, 5'000}, {true, 10'000}};
    const auto e = estimate_run(w, measured(4'000), l, kNow);
    CHECK(e.offline == 25'000);
}

TEST_CASE("estimate: busy machines come back at their not_before, or after retry.busy_every") {
    RunWork w;
    w.busy = 3;
    w.busy_until = kNow + 20'000;
    // Ready at 20 s, all three submitted at once, then 4 s.
    CHECK(estimate_run(w, measured(4'000), sim_limits(), kNow).duration == 24'000);
    // A not_before already past: ready now.
    w.busy_until = kNow - 1'000;
    CHECK(estimate_run(w, measured(4'000), sim_limits(), kNow).duration == 4'000);
    // Unknown: retry.busy_every (10 minutes by default) from now.
    w.busy_until.reset();
    CHECK(estimate_run(w, measured(4'000), sim_limits(), kNow).duration == 604'000);
    w.busy_every = 8'000;
    CHECK(estimate_run(w, measured(4'000), sim_limits(), kNow).duration == 12'000);
    // Twelve busy at once: the last leaves a window later.
    w.busy = 12;
    CHECK(estimate_run(w, measured(4'000), sim_limits(), kNow).duration == 15'000);
}

TEST_CASE("estimate: a paused job or tenant has no end") {
    RunWork w = queued(10);
    w.paused = true;
    const auto e = estimate_run(w, measured(4'000), sim_limits(), kNow);
    CHECK(e.blocked == Blocked::paused);
    CHECK(e.to_submit == 10);
}

TEST_CASE("estimate: offline-looking sessions that can never be sent (offline_slots: 0)") {
    EstimateLimits l = sim_limits();
    l.offline_slots = 0;
    CHECK(estimate_run(queued(5, 2), measured(4'000), l, kNow).blocked ==
          Blocked::no_offline_slots);
    // Without offline-looking ones waiting, every slot serves the online ones.
    const auto e = estimate_run(queued(20), measured(4'000), l, kNow);
    CHECK(e.blocked == Blocked::no);
    CHECK(e.duration == 8'000);
    // And when pending sessions hold no slot, offline_slots does not gate them.
    l.pending_counts = false;
    CHECK(estimate_run(queued(5, 2), measured(4'000), l, kNow).blocked == Blocked::no);
}

TEST_CASE("estimate: more work or slower sessions never end sooner, and never before the submits") {
    const EstimateLimits l = sim_limits();
    for (const Millis t : {500, 2'000, 4'000, 30'000}) {
        for (std::int64_t on = 0; on <= 60; on += 7) {
            for (std::int64_t off = 0; off <= 12; off += 3) {
                CAPTURE(t);
                CAPTURE(on);
                CAPTURE(off);
                const auto e = estimate_run(queued(on, off), measured(t), l, kNow);
                REQUIRE(e.blocked == Blocked::no);
                CHECK(e.duration >= e.submits);
                CHECK(e.duration >= (on > 0 ? t : 0));
                CHECK(e.duration >= (off > 0 ? l.queue_expiry : 0));
                CHECK(e.end_at == kNow + e.duration);
                CHECK(estimate_run(queued(on + 1, off), measured(t), l, kNow).duration >=
                      e.duration);
                CHECK(estimate_run(queued(on, off + 1), measured(t), l, kNow).duration >=
                      e.duration);
                CHECK(estimate_run(queued(on, off), measured(t + 100), l, kNow).duration >=
                      e.duration);
            }
        }
    }
}

TEST_CASE("run_work: the store's backlog seen at now") {
    lrsched::store::RunReport run;
    for (const SessionState s : lrsched::sessions::kAllStates)
        run.counts[s] = 0;
    run.counts[SessionState::busy] = 2;
    lrsched::store::RunBacklog b;
    b.queued_online = 7;
    b.queued_offline = 3;
    b.busy_until = kNow + 5'000;
    b.busy_every_ms = 60'000;
    b.in_flight = {{false, SessionState::running, kNow - 1'500},
                   {true, SessionState::pending, kNow - 4'000},
                   {true, SessionState::running, kNow - 2'000},  // came online: no offline slot
                   {false, SessionState::submitting, std::nullopt}};
    run.backlog = b;
    const RunWork w = run_work(run, kNow);
    CHECK(w.queued_online == 7);
    CHECK(w.queued_offline == 3);
    CHECK(w.busy == 2);
    REQUIRE(w.busy_until);
    CHECK(*w.busy_until == kNow + 5'000);
    CHECK(w.busy_every == 60'000);
    REQUIRE(w.in_flight.size() == 4);
    CHECK_FALSE(w.in_flight[0].offline);
    CHECK_FALSE(w.in_flight[0].pending);
    CHECK(w.in_flight[0].elapsed == 1'500);
    CHECK(w.in_flight[1].offline);
    CHECK(w.in_flight[1].pending);
    CHECK(w.in_flight[1].elapsed == 4'000);
    CHECK_FALSE(w.in_flight[2].offline);
    CHECK(w.in_flight[3].elapsed == 0);
    CHECK_FALSE(w.paused);
}
