// TimeWindow: parsing "HH:MM-HH:MM", membership at the edges, windows that
// wrap midnight, next_open, and DST days in a real zone (Europe/Berlin).
#include "jobs/cron.hpp"
#include "support/schedule_time.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::jobs::ScheduleParseError;
using lrsched::jobs::TimeWindow;
using lrsched::jobs::TimeZone;
using lrsched::test::iso;
using lrsched::test::utc;

namespace {

TimeWindow window(const char* text) {
    ScheduleParseError err{};
    auto w = TimeWindow::parse(text, &err);
    INFO(err.message);
    REQUIRE(w.has_value());
    return *w;
}

}  // namespace

TEST_CASE("time window parses HH:MM-HH:MM into minutes since midnight") {
    CHECK(window("01:00-05:00").start_minute() == 60);
    CHECK(window("01:00-05:00").end_minute() == 300);
    CHECK(window("22:00-04:00").start_minute() == 1320);
    CHECK(window("22:00-04:00").end_minute() == 240);
    CHECK(window("00:00-23:59").end_minute() == 1439);
    CHECK(window("23:59-00:00").start_minute() == 1439);
}

TEST_CASE("time window rejects malformed text and points at the bad character") {
    struct Row {
        const char* text;
        std::size_t offset;
        const char* says;
    };
    const Row rows[] = {
        {"", 0, "empty"},
        {"24:00-05:00", 0, "window start: hour 24 is out of range 00-23"},
        {"22:00-24:00", 6, "window end: hour 24 is out of range"},
        {"1:00-2:00", 1, "two-digit"},
        {"01:00-2:00", 7, "window end: expected HH:MM"},
        {"10:00-10:00", 0, "empty window; omit `window` for no restriction"},
        {"01:0005:00", 5, "expected '-'"},
        {"01:00 05:00", 5, "expected '-'"},
        {"01:00", 5, "expected '-'"},
        {"01:00-", 6, "expected HH:MM"},
        {"01:00-05", 8, "expected HH:MM"},
        {"garbage", 0, "expected HH:MM"},
        {"12:60-13:00", 3, "window start: minute 60 is out of range 00-59"},
        {"01.00-05:00", 2, "expected HH:MM"},
        {" 01:00-05:00", 0, "expected HH:MM"},
        {"01:00-05:00x", 11, "unexpected text"},
        {"01:00-05:00 ", 11, "unexpected text"},
        {"01:00\xe2\x80\x93"
         "05:00",
         5, "expected '-'"},  // an en dash
    };
    for (const Row& row : rows) {
        CAPTURE(row.text);
        ScheduleParseError err{99, "untouched"};
        CHECK_FALSE(TimeWindow::parse(row.text, &err).has_value());
        CHECK(err.offset == row.offset);
        CAPTURE(err.message);
        CHECK(err.message.find(row.says) != std::string::npos);
    }
    CHECK_FALSE(TimeWindow::parse("garbage", nullptr).has_value());
}

TEST_CASE("time window includes its start and excludes its end") {
    const TimeWindow w = window("01:00-05:00");
    CHECK_FALSE(w.contains(utc("2026-01-01T00:59:59Z"), TimeZone::utc));
    CHECK(w.contains(utc("2026-01-01T01:00:00Z"), TimeZone::utc));
    CHECK(w.contains(utc("2026-01-01T04:59:59Z"), TimeZone::utc));
    CHECK_FALSE(w.contains(utc("2026-01-01T05:00:00Z"), TimeZone::utc));
    CHECK_FALSE(w.contains(utc("2026-01-01T12:00:00Z"), TimeZone::utc));
}

TEST_CASE("time window that wraps midnight covers both sides of it") {
    const TimeWindow w = window("22:00-04:00");
    CHECK_FALSE(w.contains(utc("2026-01-01T21:59:59Z"), TimeZone::utc));
    CHECK(w.contains(utc("2026-01-01T22:00:00Z"), TimeZone::utc));
    CHECK(w.contains(utc("2026-01-01T23:59:59Z"), TimeZone::utc));
    CHECK(w.contains(utc("2026-01-02T00:00:00Z"), TimeZone::utc));
    CHECK(w.contains(utc("2026-01-02T03:59:59Z"), TimeZone::utc));
    CHECK_FALSE(w.contains(utc("2026-01-02T04:00:00Z"), TimeZone::utc));
    CHECK_FALSE(w.contains(utc("2026-01-02T12:00:00Z"), TimeZone::utc));
}

TEST_CASE("time window next_open is now inside the window, else the next start") {
    const TimeWindow w = window("01:00-05:00");
    const auto open = [&w](const char* t) { return iso(w.next_open(utc(t), TimeZone::utc)); };
    CHECK(open("2026-01-01T02:30:17Z") == "2026-01-01T02:30:17Z");  // inside: t itself
    CHECK(open("2026-01-01T01:00:00Z") == "2026-01-01T01:00:00Z");
    CHECK(open("2026-01-01T00:10:30Z") == "2026-01-01T01:00:00Z");  // before: today's start
    CHECK(open("2026-01-01T05:00:00Z") == "2026-01-02T01:00:00Z");  // after: tomorrow's
    CHECK(open("2026-01-01T23:59:59Z") == "2026-01-02T01:00:00Z");
    CHECK(open("2026-12-31T06:00:00Z") == "2027-01-01T01:00:00Z");  // across a year end

    const TimeWindow night = window("22:00-04:00");
    CHECK(iso(night.next_open(utc("2026-01-01T12:00:00Z"), TimeZone::utc)) ==
          "2026-01-01T22:00:00Z");
    CHECK(iso(night.next_open(utc("2026-01-01T04:00:00Z"), TimeZone::utc)) ==
          "2026-01-01T22:00:00Z");
    CHECK(iso(night.next_open(utc("2026-01-02T01:00:00Z"), TimeZone::utc)) ==
          "2026-01-02T01:00:00Z");

    const TimeWindow after_midnight = window("00:30-01:00");
    CHECK(iso(after_midnight.next_open(utc("2026-01-01T23:45:00Z"), TimeZone::utc)) ==
          "2026-01-02T00:30:00Z");
}

TEST_CASE("time window in local time follows the wall clock on DST days") {
    lrsched::test::require_zone("Europe/Berlin");
    const lrsched::test::ScopedTz berlin("Europe/Berlin");
    const auto local = TimeZone::local;

    SUBCASE("ordinary winter and summer days") {
        const TimeWindow w = window("01:00-05:00");
        CHECK(iso(w.next_open(utc("2026-01-15T12:00:00Z"), local)) == "2026-01-16T00:00:00Z");
        CHECK(iso(w.next_open(utc("2026-07-15T12:00:00Z"), local)) == "2026-07-15T23:00:00Z");
        CHECK(w.contains(utc("2026-07-15T23:00:00Z"), local));
        CHECK_FALSE(w.contains(utc("2026-07-15T23:00:00Z"), TimeZone::utc));
    }
    SUBCASE("spring forward: a window starting in the gap opens at the transition") {
        // 2026-03-29: 02:00 CET does not exist; 01:00Z is 03:00 CEST.
        const TimeWindow w = window("02:00-04:00");
        CHECK_FALSE(w.contains(utc("2026-03-29T00:59:59Z"), local));
        CHECK(w.contains(utc("2026-03-29T01:00:00Z"), local));
        CHECK(iso(w.next_open(utc("2026-03-28T23:00:00Z"), local)) == "2026-03-29T01:00:00Z");
        const TimeWindow half = window("02:30-03:30");
        CHECK(iso(half.next_open(utc("2026-03-29T00:00:00Z"), local)) == "2026-03-29T01:00:00Z");
        // A window wholly inside the gap does not open that day at all.
        const TimeWindow lost = window("02:00-02:30");
        CHECK(iso(lost.next_open(utc("2026-03-29T00:00:00Z"), local)) == "2026-03-30T00:00:00Z");
    }
    SUBCASE("fall back: the repeated hour is inside the window on both passes") {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00Z.
        const TimeWindow w = window("02:00-02:30");
        CHECK(w.contains(utc("2026-10-25T00:15:00Z"), local));        // 02:15 CEST
        CHECK_FALSE(w.contains(utc("2026-10-25T00:45:00Z"), local));  // 02:45 CEST
        CHECK(w.contains(utc("2026-10-25T01:15:00Z"), local));        // 02:15 CET
        CHECK(iso(w.next_open(utc("2026-10-25T00:45:00Z"), local)) == "2026-10-25T01:00:00Z");
        const TimeWindow later = window("03:00-04:00");
        CHECK(iso(later.next_open(utc("2026-10-24T23:00:00Z"), local)) == "2026-10-25T02:00:00Z");
    }
}
