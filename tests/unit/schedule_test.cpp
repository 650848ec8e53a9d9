// Schedules driven by a simulated clock (issue 13, item 4; SPEC §2): a model
// of the jobs loop (runtime/jobs_loop.cpp fire_job) around the pure
// decisions it makes (jobs/firing.hpp: decide_firing, firing_skipped) is
// run through days and weeks of minutes, and the exact set of firings is
// compared with a brute-force reading of the cron fields minute by minute:
// cron in UTC and in local time across both DST changes of Europe/Berlin,
// catch_up after downtime, overlap skip|queue, clock steps both ways, and
// the dispatch window (dispatch/run_plan.hpp), likewise against brute force.
#include "dispatch/run_plan.hpp"
#include "jobs/firing.hpp"
#include "support/schedule_time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using lrsched::dispatch::RunPlan;
using lrsched::jobs::CronExpr;
using lrsched::jobs::decide_firing;
using lrsched::jobs::firing_skipped;
using lrsched::jobs::FiringInput;
using lrsched::jobs::LatestRun;
using lrsched::jobs::Overlap;
using lrsched::jobs::TimePoint;
using lrsched::jobs::TimeWindow;
using lrsched::jobs::TimeZone;
using lrsched::test::iso;
using lrsched::test::utc;
using std::chrono::minutes;

namespace {

CronExpr cron(const char* text) {
    auto c = CronExpr::parse(text, nullptr);
    REQUIRE_MESSAGE(c.has_value(), text);
    return *c;
}

// The jobs loop for one scheduled job, as fire_job runs it: the stored
// last_fired, a decision per wake, a run when one is due and overlap allows.
struct Loop {
    explicit Loop(CronExpr e, TimeZone z = TimeZone::utc) : expr(std::move(e)), tz(z) {}
    CronExpr expr;
    TimeZone tz;
    bool catch_up = false;
    Overlap overlap = Overlap::queue;
    minutes run_waits{0};  // how long each run keeps sessions waiting to be submitted
    TimePoint loaded;
    std::optional<TimePoint> last_fired;  // survives restarts (the store)
    bool at_startup = true;
    std::vector<std::string> runs;  // iso(run_for), "+catch-up" marked
    std::vector<TimePoint> created;

    std::optional<TimePoint> wake(TimePoint now) {
        FiringInput in;
        in.last_fired = last_fired;
        in.first_loaded = loaded;
        in.now = now;
        in.at_startup = at_startup;
        in.catch_up = catch_up;
        at_startup = false;
        const auto d = decide_firing(expr, tz, in);
        if (d.run_for) {
            std::optional<LatestRun> latest;
            if (!created.empty()) {
                const bool waiting = now < created.back() + run_waits;
                latest = LatestRun{!waiting, true, waiting ? 1 : 0};
            }
            if (!firing_skipped(overlap, latest)) {
                runs.push_back(iso(*d.run_for) + (d.catch_up_run ? "+catch-up" : ""));
                created.push_back(now);
            }
        }
        if (d.mark_fired) last_fired = d.mark_fired;
        return d.next_wake;
    }
    // The daemon up from `from` to `to`, waking at each next_wake a little
    // late (a timer is never early), as the loop does.
    void up(TimePoint from, TimePoint to) {
        at_startup = true;
        for (auto next = wake(from); next && *next <= to;)
            next = wake(*next + std::chrono::milliseconds(250));
    }
    // The daemon up, woken every minute (other events wake the loop too).
    void up_every_minute(TimePoint from, TimePoint to) {
        at_startup = true;
        for (TimePoint t = from; t <= to; t += minutes(1))
            wake(t);
    }
};

using Fields = std::function<bool(const std::tm&)>;

// Every minute in (from, to] whose wall clock matches, by brute force; in
// local time a wall minute seen twice (fall back) counts once, the first
// time, and one that never shows (spring forward) not at all.
std::vector<std::string> brute_force(const Fields& match,
                                     TimeZone tz,
                                     TimePoint from,
                                     TimePoint to) {
    std::vector<std::string> out;
    std::set<std::string> walls_seen;
    for (TimePoint t = from + minutes(1); t <= to; t += minutes(1)) {
        const std::time_t secs = std::chrono::system_clock::to_time_t(t);
        std::tm tm{};
        if (tz == TimeZone::utc)
            gmtime_r(&secs, &tm);
        else
            localtime_r(&secs, &tm);
        char wall[32];
        std::strftime(wall, sizeof wall, "%F %R", &tm);
        if (match(tm) && walls_seen.insert(wall).second) out.push_back(iso(t));
    }
    return out;
}

bool has_duplicates(const std::vector<std::string>& v) {
    return std::set<std::string>(v.begin(), v.end()).size() != v.size();
}

}  // namespace

TEST_CASE("schedule: a weekday cron in UTC fires at exactly its instants through a week") {
    const TimePoint from = utc("2026-11-15T22:00:00Z");  // Sunday evening
    const TimePoint to = utc("2026-11-23T02:00:00Z");
    const auto expected = brute_force(
        [](const std::tm& t) {
            return t.tm_min % 15 == 0 && t.tm_hour >= 9 && t.tm_hour <= 17 && t.tm_wday >= 1 &&
                   t.tm_wday <= 5;
        },
        TimeZone::utc, from, to);
    REQUIRE(expected.size() == 5 * 9 * 4);  // 09:00..17:45, five days
    Loop by_wake{cron("*/15 9-17 * * 1-5")};
    by_wake.loaded = from;
    by_wake.up(from, to);
    CHECK(by_wake.runs == expected);
    Loop by_minute{cron("*/15 9-17 * * 1-5")};
    by_minute.loaded = from;
    by_minute.up_every_minute(from, to);
    CHECK(by_minute.runs == expected);
}

TEST_CASE("schedule: cron in local time across both DST changes of Europe/Berlin") {
    lrsched::test::require_zone("Europe/Berlin");
    const lrsched::test::ScopedTz berlin("Europe/Berlin");
    struct Case {
        const char* cron;
        Fields match;
    };
    const Case cases[] = {
        {"30 2 * * *", [](const std::tm& t) { return t.tm_hour == 2 && t.tm_min == 30; }},
        {"*/20 1-3 * * *",
         [](const std::tm& t) { return t.tm_hour >= 1 && t.tm_hour <= 3 && t.tm_min % 20 == 0; }},
        {"0 * * * *", [](const std::tm& t) { return t.tm_min == 0; }},
    };
    // Spring forward 2026-03-29 01:00Z, fall back 2026-10-25 01:00Z.
    for (const char* start : {"2026-03-26T12:00:00Z", "2026-10-22T12:00:00Z"})
        for (const Case& c : cases) {
            const TimePoint from = utc(start);
            const TimePoint to = from + std::chrono::hours(24 * 7);
            const auto expected = brute_force(c.match, TimeZone::local, from, to);
            INFO(c.cron << " from " << start);
            Loop by_wake{cron(c.cron), TimeZone::local};
            by_wake.loaded = from;
            by_wake.up(from, to);
            CHECK(by_wake.runs == expected);
            Loop by_minute{cron(c.cron), TimeZone::local};
            by_minute.loaded = from;
            by_minute.up_every_minute(from, to);
            CHECK(by_minute.runs == expected);
            CHECK_FALSE(has_duplicates(by_wake.runs));
        }
    // The two nights themselves, spelled out.
    Loop nightly{cron("30 2 * * *"), TimeZone::local};
    nightly.loaded = utc("2026-03-27T12:00:00Z");
    nightly.up(nightly.loaded, utc("2026-03-30T12:00:00Z"));
    CHECK(nightly.runs == std::vector<std::string>{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"});
    nightly = Loop{cron("30 2 * * *"), TimeZone::local};
    nightly.loaded = utc("2026-10-24T12:00:00Z");
    nightly.up(nightly.loaded, utc("2026-10-26T12:00:00Z"));
    CHECK(nightly.runs == std::vector<std::string>{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"});
}

TEST_CASE("schedule: catch_up gives one run at start-up after downtime, like Persistent=") {
    const auto week = [](bool catch_up) {
        Loop l{cron("0 1 * * *")};
        l.catch_up = catch_up;
        l.loaded = utc("2026-11-16T00:00:00Z");
        l.up(l.loaded, utc("2026-11-18T00:30:00Z"));                     // Mon, Tue fire
        l.up(utc("2026-11-20T12:00:00Z"), utc("2026-11-20T12:05:00Z"));  // Wed-Fri 01:00 missed
        l.up(utc("2026-11-20T12:06:00Z"), utc("2026-11-20T13:00:00Z"));  // restarted again
        l.up(utc("2026-11-21T00:00:00Z"),
             utc("2026-11-22T23:59:00Z"));  // down 13:00-00:00, no firing
        return l.runs;
    };
    CHECK(week(true) == std::vector<std::string>{"2026-11-16T01:00:00Z", "2026-11-17T01:00:00Z",
                                                 "2026-11-20T01:00:00Z+catch-up",
                                                 "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"});
    CHECK(week(false) == std::vector<std::string>{"2026-11-16T01:00:00Z", "2026-11-17T01:00:00Z",
                                                  "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"});
}

TEST_CASE("schedule: a clock stepped back never fires an instant twice, stepped forward once") {
    Loop l{cron("0 * * * *")};
    l.loaded = utc("2026-11-22T06:30:00Z");
    l.up_every_minute(l.loaded, utc("2026-11-22T10:05:00Z"));
    l.at_startup = false;  // the same process: its clock moves, it does not restart
    // Stepped back 1 h 35 min, then on minute by minute to 12:05.
    for (TimePoint t = utc("2026-11-22T08:30:00Z"); t <= utc("2026-11-22T12:05:00Z");
         t += minutes(1))
        l.wake(t);
    // Stepped forward 3 h 35 min: 13:00, 14:00 and 15:00 become one run.
    for (TimePoint t = utc("2026-11-22T15:40:00Z"); t <= utc("2026-11-22T17:00:00Z");
         t += minutes(1))
        l.wake(t);
    CHECK(l.runs == std::vector<std::string>{
                        "2026-11-22T07:00:00Z", "2026-11-22T08:00:00Z", "2026-11-22T09:00:00Z",
                        "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z",
                        "2026-11-22T15:00:00Z", "2026-11-22T16:00:00Z", "2026-11-22T17:00:00Z"});
    CHECK_FALSE(has_duplicates(l.runs));
}

TEST_CASE("schedule: overlap skip drops a firing while the last run waits, queue never does") {
    SUBCASE("the decision") {
        CHECK_FALSE(firing_skipped(Overlap::skip, std::nullopt));          // no run yet
        CHECK(firing_skipped(Overlap::skip, LatestRun{false, false, 0}));  // targets unresolved
        CHECK(firing_skipped(Overlap::skip, LatestRun{false, true, 3}));   // sessions queued
        // Only sessions on the server (pending on offline machines): the next run goes.
        CHECK_FALSE(firing_skipped(Overlap::skip, LatestRun{false, true, 0}));
        CHECK_FALSE(firing_skipped(Overlap::skip, LatestRun{true, true, 0}));
        CHECK_FALSE(firing_skipped(Overlap::queue, LatestRun{false, false, 0}));
        CHECK_FALSE(firing_skipped(Overlap::queue, LatestRun{false, true, 3}));
    }
    SUBCASE("through a day of hourly firings, each run waiting 90 minutes") {
        const TimePoint from = utc("2026-11-22T00:30:00Z");
        const TimePoint to = utc("2026-11-23T00:30:00Z");
        Loop skip{cron("0 * * * *")};
        skip.overlap = Overlap::skip;
        skip.run_waits = minutes(90);
        skip.loaded = from;
        skip.up(from, to);
        Loop queue{cron("0 * * * *")};
        queue.overlap = Overlap::queue;
        queue.run_waits = minutes(90);
        queue.loaded = from;
        queue.up(from, to);
        // 01:00 runs; 02:00 finds it waiting (until 02:30) and is skipped,
        // never run later; 03:00 runs; ...; 00:00 finds 23:00's waiting.
        std::vector<std::string> odd;
        for (int h = 1; h < 24; h += 2)
            odd.push_back(iso(utc("2026-11-22T00:00:00Z") + std::chrono::hours(h)));
        CHECK(skip.runs == odd);
        CHECK(queue.runs.size() == 24);
        CHECK_FALSE(has_duplicates(queue.runs));
        CHECK(skip.last_fired == utc("2026-11-23T00:00:00Z"));  // skipped firings still handled
    }
}

TEST_CASE("schedule: the dispatch window opens and closes at exactly its minutes") {
    const auto check_week = [](const char* text, TimeZone tz, TimePoint from) {
        RunPlan plan;
        plan.window = TimeWindow::parse(text, nullptr);
        REQUIRE(plan.window);
        plan.tz = tz;
        const int start = plan.window->start_minute();
        const int end = plan.window->end_minute();
        const auto inside = [&](const std::tm& t) {
            const int m = t.tm_hour * 60 + t.tm_min;
            return start < end ? m >= start && m < end : m >= start || m < end;
        };
        // Brute force, minute by minute; a wall minute repeated on a
        // fall-back night is inside both times (SPEC: the wall clock rules).
        std::vector<TimePoint> minutes_of_week;
        std::vector<bool> open;
        for (TimePoint t = from; t < from + std::chrono::hours(24 * 7); t += minutes(1)) {
            const std::time_t secs = std::chrono::system_clock::to_time_t(t);
            std::tm tm{};
            if (tz == TimeZone::utc)
                gmtime_r(&secs, &tm);
            else
                localtime_r(&secs, &tm);
            minutes_of_week.push_back(t);
            open.push_back(inside(tm));
        }
        std::optional<TimePoint> next_open;  // filled backwards
        int mismatches = 0;
        for (std::size_t i = minutes_of_week.size(); i-- > 0;) {
            if (open[i]) next_open = minutes_of_week[i];
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                minutes_of_week[i].time_since_epoch())
                                .count();
            std::int64_t opens = -1;
            const bool got = plan.window_open(ms, &opens);
            if (got != open[i] || (!got && next_open &&
                                   opens != std::chrono::duration_cast<std::chrono::milliseconds>(
                                                next_open->time_since_epoch())
                                                .count())) {
                std::ostringstream what;
                what << text << " at " << iso(minutes_of_week[i]) << ": open " << got << ", opens "
                     << opens;
                if (++mismatches <= 5) FAIL_CHECK(what.str());
            }
        }
        CHECK(mismatches == 0);
    };
    check_week("01:00-05:00", TimeZone::utc, utc("2026-11-16T00:00:00Z"));
    check_week("22:00-04:00", TimeZone::utc, utc("2026-11-16T00:00:00Z"));
    lrsched::test::require_zone("Europe/Berlin");
    const lrsched::test::ScopedTz berlin("Europe/Berlin");
    for (const char* w : {"01:00-05:00", "02:00-03:00", "02:30-02:45", "22:00-02:30"}) {
        check_week(w, TimeZone::local, utc("2026-03-25T00:00:00Z"));
        check_week(w, TimeZone::local, utc("2026-10-21T00:00:00Z"));
    }
}
