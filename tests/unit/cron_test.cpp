// Cron expressions: known next firings in UTC, rejected expressions with the
// offset they report, and DST days in a real zone (Europe/Berlin).
#include "jobs/cron.hpp"

#include "support/schedule_time.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using lrsched::jobs::CronExpr;
using lrsched::jobs::ScheduleParseError;
using lrsched::jobs::TimePoint;
using lrsched::jobs::TimeZone;
using lrsched::test::iso;
using lrsched::test::utc;

namespace {

std::string next_utc(const char* expr, const char* after) {
    ScheduleParseError err{};
    const auto cron = CronExpr::parse(expr, &err);
    if (!cron) return "parse error: " + err.message;
    return iso(cron->next_after(utc(after), TimeZone::utc));
}

// Every firing in (from, to], by chaining next_after; capped so that a
// next_after that stops making progress fails the test instead of hanging it.
std::vector<std::string> firings(const CronExpr& cron, TimePoint from, TimePoint to, TimeZone tz) {
    std::vector<std::string> out;
    for (auto t = cron.next_after(from, tz); t && *t <= to && out.size() < 100;
         t = cron.next_after(*t, tz)) {
        out.push_back(iso(*t));
    }
    return out;
}

}  // namespace

TEST_CASE("cron next_after matches a table of known answers in UTC") {
    struct Row {
        const char* expr;
        const char* after;
        const char* expected;
    };
    // 2026-01-01 is a Thursday; 2026-01-13 a Tuesday; 2028-02-29 a Tuesday.
    const Row rows[] = {
        {"* * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
        {"* * * * *", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"},  // seconds in `after`
        {"0 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
        {"0 * * * *", "2026-01-01T00:59:59Z", "2026-01-01T01:00:00Z"},
        {"0 1 * * *", "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"},
        {"0 1 * * *", "2026-01-01T01:00:00Z", "2026-01-02T01:00:00Z"},  // strictly after
        {"0 1 * * *", "2026-01-01T01:00:01Z", "2026-01-02T01:00:00Z"},
        {"0 0 31 * *", "2026-04-15T00:00:00Z", "2026-05-31T00:00:00Z"},  // April has 30 days
        {"0 0 31 * *", "2026-06-01T00:00:00Z", "2026-07-31T00:00:00Z"},
        {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},  // and February none
        {"0 12 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T12:00:00Z"},
        {"0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},  // 2100 is no leap year
        {"0 9 * * mon-fri", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"},  // Fri -> Mon
        {"0 9 * * MON-Fri", "2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z"},
        {"0 9 * * sun", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z"},
        {"0 9 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z"},
        {"0 9 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z"},
        {"0 0 * * 6,0", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"},
        {"0 12 * * 5/1", "2026-01-09T12:00:00Z", "2026-01-10T12:00:00Z"},  // fri,sat,sun
        {"*/15 * * * *", "2026-01-01T10:07:00Z", "2026-01-01T10:15:00Z"},
        {"*/15 * * * *", "2026-01-01T10:45:00Z", "2026-01-01T11:00:00Z"},
        {"40/7 * * * *", "2026-01-01T10:48:00Z", "2026-01-01T10:54:00Z"},  // 40,47,54
        {"5-59/20 * * * *", "2026-01-01T10:26:00Z", "2026-01-01T10:45:00Z"},
        {"5-59/20 * * * *", "2026-01-01T10:45:00Z", "2026-01-01T11:05:00Z"},
        {"0 0-23/6 * * *", "2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z"},
        {"0 0-23/6 * * *", "2026-01-01T18:30:00Z", "2026-01-02T00:00:00Z"},
        {"0 0 */10 * *", "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z"},  // 1,11,21,31
        {"0,30 8,17 * * *", "2026-01-01T08:30:00Z", "2026-01-01T17:00:00Z"},
        {"15 10 1,15 * *", "2026-01-02T00:00:00Z", "2026-01-15T10:15:00Z"},
        {"0 0 13 * fri", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},  // a Friday
        {"0 0 13 * fri", "2026-01-10T00:00:00Z", "2026-01-13T00:00:00Z"},  // the 13th, a Tuesday
        {"0 0 13 * fri", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"},
        {"30 4 1-7 * mon", "2026-01-07T04:30:00Z", "2026-01-12T04:30:00Z"},
        {"0 0 29 2 mon", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z"},
        // A '*'-led day-of-week does not take part in the OR rule: 1st AND Sun/Tue/Thu/Sat.
        {"0 0 1 * */2", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
        {"0 0 1 jan,jul *", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
        {"0 0 1 JAN-Mar *", "2026-03-02T00:00:00Z", "2027-01-01T00:00:00Z"},
        {"0 0 1 1 *", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
        {"59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
        {"0 0 * * *", "2026-12-31T23:59:30Z", "2027-01-01T00:00:00Z"},
        // Feb 29 on a Sunday (2032, then 2060): the second is past the 8-year horizon.
        {"0 0 29 2 */7", "2025-01-01T00:00:00Z", "2032-02-29T00:00:00Z"},
        {"0 0 29 2 */7", "2033-01-01T00:00:00Z", "none"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.expr);
        CAPTURE(row.after);
        CHECK(next_utc(row.expr, row.after) == row.expected);
    }
}

TEST_CASE("cron next_after ignores sub-second parts of `after`") {
    const auto cron = CronExpr::parse("0 1 * * *", nullptr);
    REQUIRE(cron);
    const TimePoint just_before = utc("2026-01-01T01:00:00Z") - std::chrono::nanoseconds{1};
    const TimePoint just_after = utc("2026-01-01T01:00:00Z") + std::chrono::milliseconds{1};
    CHECK(iso(cron->next_after(just_before, TimeZone::utc)) == "2026-01-01T01:00:00Z");
    CHECK(iso(cron->next_after(just_after, TimeZone::utc)) == "2026-01-02T01:00:00Z");
}

TEST_CASE("cron expressions keep their text") {
    const auto cron = CronExpr::parse("  0 1 * * *", nullptr);
    REQUIRE(cron);
    CHECK(cron->text() == "  0 1 * * *");
}

TEST_CASE("cron rejects malformed expressions and points at the bad field") {
    struct Row {
        const char* expr;
        std::size_t offset;
        const char* says;
    };
    const Row rows[] = {
        {"* * * *", 7, "expected 5 fields"},
        {"* * * * * *", 10, "got 6"},
        {"", 0, "empty schedule"},
        {"   ", 0, "empty schedule"},
        {"60 * * * *", 0, "minute field: 60 is out of range 0-59"},
        {"* 24 * * *", 2, "hour field: 24 is out of range 0-23"},
        {"* * 0 * *", 4, "day-of-month field: 0 is out of range 1-31"},
        {"* * 32 * *", 4, "day-of-month field: 32 is out of range 1-31"},
        {"* * * 13 *", 6, "month field: 13 is out of range 1-12"},
        {"* * * * 8", 8, "day-of-week field: 8 is out of range 0-7"},
        {"99999999999999999999 * * * *", 0, "out of range"},
        {"5-1 * * * *", 0, "minute field: range \"5-1\" is reversed"},
        {"* * * * mon-sun", 8, "reversed"},  // sun is 0; write mon-7 or 1-7
        {"*/0 * * * *", 2, "minute field: step 0 is out of range 1-60"},
        {"*/61 * * * *", 2, "step 61"},
        {"1,,2 * * * *", 2, "minute field: empty list item"},
        {"1, * * * *", 2, "empty list item"},
        {",1 * * * *", 0, "empty list item"},
        {"a * * * *", 0, "minute field: unexpected \"a\""},
        {"1-2-3 * * * *", 3, "unexpected \"-\""},
        {"5- * * * *", 2, "expected a value"},
        {"*/ * * * *", 2, "expected a value"},
        {"*/x * * * *", 2, "unexpected \"x\""},
        {"@daily", 0, "@macros"},
        {"@reboot", 0, "use 5 fields"},
        {"* * * foo *", 6, "month field: unknown name \"foo\""},
        {"* * * * january", 8, "unknown name"},
        {"* * * mon *", 6, "unknown name \"mon\""},
        {"0 0 L * *", 4, "day-of-month field: \"L\" is not supported"},
        {"0 0 * * 5#3", 9, "\"#\" is not supported"},
        {"0 0 30 2 *", 4, "never fires"},
        {"0 0 31 4,6,9,11 *", 4, "never fires"},
        {"0 0 30,31 feb */2", 4, "never fires"},
        {"0 1 * * 1x", 9, "unexpected \"x\""},
        {"0 1 * * * extra", 10, "got 6"},
        {"0 1 * * *\x7f", 9, "unexpected \"\\x7f\""},  // shown escaped, not raw
    };
    for (const Row& row : rows) {
        CAPTURE(row.expr);
        ScheduleParseError err{99, "untouched"};
        CHECK_FALSE(CronExpr::parse(row.expr, &err).has_value());
        CHECK(err.offset == row.offset);
        CAPTURE(err.message);
        CHECK(err.message.find(row.says) != std::string::npos);
    }
    CHECK_FALSE(CronExpr::parse("60 * * * *", nullptr).has_value());  // err may be null
}

TEST_CASE("cron accepts every documented form") {
    for (const char* good :
         {"* * * * *", "0 0 1 1 0", "59 23 31 12 7", "*/1 * * * *", "0-59/60 * * * *",
          "1,2,3-5,*/20,40/7 * * * *", "0 0 * * sun-sat", "0 0 * * 0-7", "0 0 1 jan-dec *",
          "0 0 1 Jan,FEB,mAr *", "0 0 29 2 *", "0 0 30 2 mon", "\t0\t1  * *   *  \n"}) {
        CAPTURE(good);
        ScheduleParseError err{};
        const bool parsed = CronExpr::parse(good, &err).has_value();
        CAPTURE(err.message);
        CHECK(parsed);
    }
}

TEST_CASE("cron in local time skips a spring-forward minute and fires once on fall-back") {
    lrsched::test::require_zone("Europe/Berlin");
    const lrsched::test::ScopedTz berlin("Europe/Berlin");
    const auto at_0230 = CronExpr::parse("30 2 * * *", nullptr);
    REQUIRE(at_0230);

    SUBCASE("2026-03-29 has no 02:30 (02:00 CET jumps to 03:00 CEST at 01:00Z)") {
        CHECK(firings(*at_0230, utc("2026-03-26T12:00:00Z"), utc("2026-03-31T12:00:00Z"),
                      TimeZone::local) ==
              std::vector<std::string>{"2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z",
                                       "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"});
        const auto hourly_at_2 = CronExpr::parse("*/20 2 * * *", nullptr);
        REQUIRE(hourly_at_2);
        CHECK(iso(hourly_at_2->next_after(utc("2026-03-28T23:00:00Z"), TimeZone::local)) ==
              "2026-03-30T00:00:00Z");
        const auto at_0300 = CronExpr::parse("0 3 * * *", nullptr);
        REQUIRE(at_0300);
        CHECK(iso(at_0300->next_after(utc("2026-03-28T23:00:00Z"), TimeZone::local)) ==
              "2026-03-29T01:00:00Z");
    }
    SUBCASE("2026-10-25 shows 02:30 twice (03:00 CEST falls back to 02:00 CET at 01:00Z)") {
        CHECK(firings(*at_0230, utc("2026-10-23T12:00:00Z"), utc("2026-10-27T12:00:00Z"),
                      TimeZone::local) ==
              std::vector<std::string>{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z",
                                       "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"});
        // From inside the repeated hour, the first 02:30 has already fired.
        CHECK(iso(at_0230->next_after(utc("2026-10-25T01:10:00Z"), TimeZone::local)) ==
              "2026-10-26T01:30:00Z");
        const auto every_minute = CronExpr::parse("* * * * *", nullptr);
        REQUIRE(every_minute);
        CHECK(iso(every_minute->next_after(utc("2026-10-25T00:59:00Z"), TimeZone::local)) ==
              "2026-10-25T02:00:00Z");  // 02:00-02:59 CET repeat minutes that already fired
    }
    SUBCASE("ordinary days follow the zone's offset") {
        const auto at_0100 = CronExpr::parse("0 1 * * *", nullptr);
        REQUIRE(at_0100);
        CHECK(iso(at_0100->next_after(utc("2026-01-15T12:00:00Z"), TimeZone::local)) ==
              "2026-01-16T00:00:00Z");
        CHECK(iso(at_0100->next_after(utc("2026-07-15T12:00:00Z"), TimeZone::local)) ==
              "2026-07-15T23:00:00Z");
        CHECK(iso(at_0100->next_after(utc("2026-07-15T12:00:00Z"), TimeZone::utc)) ==
              "2026-07-16T01:00:00Z");
    }
}
