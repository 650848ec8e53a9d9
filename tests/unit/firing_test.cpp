// Reliability scenario A8: a schedule missed while the daemon was down, and a
// clock stepped across a firing.
#include "jobs/firing.hpp"

#include "support/schedule_time.hpp"

#include <doctest/doctest.h>

using lrsched::jobs::CronExpr;
using lrsched::jobs::decide_firing;
using lrsched::jobs::FiringInput;
using lrsched::jobs::TimeZone;
using lrsched::test::iso;
using lrsched::test::utc;

namespace {

CronExpr nightly() {
    return *CronExpr::parse("0 1 * * *", nullptr);
}

std::string show(const std::optional<lrsched::jobs::TimePoint>& t) {
    return t ? iso(*t) : "none";
}

}  // namespace

TEST_CASE("a job loaded before its first firing waits for it") {
    FiringInput in;
    in.first_loaded = utc("2026-11-22T00:30:00Z");
    in.now = in.first_loaded;
    const auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK_FALSE(d.run_for.has_value());
    CHECK(show(d.next_wake) == "2026-11-22T01:00:00Z");
}

TEST_CASE("a firing reached while running starts a run standing for it") {
    FiringInput in;
    in.last_fired = utc("2026-11-21T01:00:00Z");
    in.first_loaded = utc("2026-11-01T00:00:00Z");
    in.now = utc("2026-11-22T01:00:00Z");
    const auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK(show(d.run_for) == "2026-11-22T01:00:00Z");
    CHECK_FALSE(d.catch_up_run);
    CHECK(show(d.mark_fired) == "2026-11-22T01:00:00Z");
    CHECK(show(d.next_wake) == "2026-11-23T01:00:00Z");
}

TEST_CASE("down 01:00-03:00: exactly one catch-up run with catch_up, none without") {
    FiringInput in;
    in.last_fired = utc("2026-11-21T01:00:00Z");
    in.first_loaded = utc("2026-11-01T00:00:00Z");
    in.now = utc("2026-11-22T03:00:00Z");
    in.at_startup = true;
    in.catch_up = true;
    auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK(show(d.run_for) == "2026-11-22T01:00:00Z");
    CHECK(d.catch_up_run);
    CHECK(d.missed == 1);
    // Deciding again from what was stored (say the run was created, then the
    // daemon restarted again) fires nothing more until the next night.
    in.last_fired = d.mark_fired;
    auto again = decide_firing(nightly(), TimeZone::utc, in);
    CHECK_FALSE(again.run_for.has_value());
    CHECK(show(again.next_wake) == "2026-11-23T01:00:00Z");

    in.last_fired = utc("2026-11-21T01:00:00Z");
    in.catch_up = false;
    d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK_FALSE(d.run_for.has_value());
    CHECK(show(d.mark_fired) == "2026-11-22T01:00:00Z");  // skipped, and remembered as handled
}

TEST_CASE("down for a week: one catch-up run, not seven") {
    FiringInput in;
    in.last_fired = utc("2026-11-14T01:00:00Z");
    in.first_loaded = in.last_fired.value();
    in.now = utc("2026-11-21T12:00:00Z");
    in.at_startup = true;
    in.catch_up = true;
    const auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK(show(d.run_for) == "2026-11-21T01:00:00Z");
    CHECK(d.missed == 7);
}

TEST_CASE("a clock stepped back an hour across a firing never fires it twice") {
    FiringInput in;
    in.last_fired = utc("2026-11-22T01:00:00Z");  // fired at 01:00
    in.first_loaded = utc("2026-11-01T00:00:00Z");
    in.now = utc("2026-11-22T00:10:00Z");  // 01:10, stepped back to 00:10
    const auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK_FALSE(d.run_for.has_value());
    CHECK(show(d.next_wake) == "2026-11-23T01:00:00Z");
}

TEST_CASE("a clock stepped forward an hour across a firing fires it once") {
    FiringInput in;
    in.last_fired = utc("2026-11-21T01:00:00Z");
    in.first_loaded = utc("2026-11-01T00:00:00Z");
    in.now = utc("2026-11-22T01:40:00Z");  // 00:40, stepped to 01:40
    auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK(show(d.run_for) == "2026-11-22T01:00:00Z");
    in.last_fired = d.mark_fired;
    d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK_FALSE(d.run_for.has_value());
}

TEST_CASE("a job first loaded after a firing instant does not run for it") {
    FiringInput in;
    in.first_loaded = utc("2026-11-22T01:30:00Z");
    in.now = in.first_loaded;
    in.at_startup = true;
    in.catch_up = true;
    const auto d = decide_firing(nightly(), TimeZone::utc, in);
    CHECK_FALSE(d.run_for.has_value());
    CHECK(show(d.next_wake) == "2026-11-23T01:00:00Z");
}
