// Job schedules: a 5-field cron expression (Vixie cron / cronie semantics)
// and a daily time window in which new sessions may start. Pure: no I/O, no
// clock reads; callers pass `now`. Evaluated in UTC or in the process's local
// time zone (TZ, through localtime_r/mktime).
//
// Expected load: a few hundred jobs, each asking for its next firing once per
// firing or configuration reload; a next_after call costs microseconds (it
// jumps by month, day, hour and minute, never minute by minute over years).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched::jobs {

enum class TimeZone { utc, local };
using TimePoint = std::chrono::system_clock::time_point;

struct ScheduleParseError {
    std::size_t offset;   // 0-based byte offset in the input text of the offending field/char
    std::string message;  // e.g. "minute field: 60 is out of range 0-59"
};

class CronExpr {
  public:
    // Parses exactly 5 whitespace-separated fields: minute hour day-of-month
    // month day-of-week. Supports *, numbers, ranges a-b, steps */n, a-b/n and
    // n/s (= n-max/s), lists of any of those, month names jan..dec and day
    // names sun..sat (case-insensitive, also in ranges), day-of-week 0-7 with
    // 0 and 7 both Sunday. Rejects anything else, including @macros and
    // expressions that can never fire ("0 0 30 2 *"). On error returns nullopt
    // and fills *err when err is not null.
    static std::optional<CronExpr> parse(std::string_view text, ScheduleParseError* err);

    // The first firing strictly after `after` (whole minutes, seconds 0), or
    // nullopt if there is none within 8 years. In local time a time that does
    // not exist (spring forward) is skipped for that day and an ambiguous one
    // (fall back) fires once, at its first occurrence.
    std::optional<TimePoint> next_after(TimePoint after, TimeZone tz) const;

    const std::string& text() const noexcept { return text_; }

  private:
    CronExpr() = default;
    bool day_matches(unsigned day_of_month, unsigned weekday) const noexcept;

    std::string text_;
    std::uint64_t minutes_ = 0;   // bit m: minute m (0-59)
    std::uint32_t hours_ = 0;     // bit h: hour h (0-23)
    std::uint32_t days_ = 0;      // bit d: day of month d (1-31)
    std::uint32_t months_ = 0;    // bit m: month m (1-12)
    std::uint32_t weekdays_ = 0;  // bit w: weekday w (0-6, 0 = Sunday)
    // Vixie cron: a day field whose text starts with '*' does not take part in
    // the "day-of-month OR day-of-week" rule.
    bool dom_star_ = false;
    bool dow_star_ = false;
};

// "HH:MM-HH:MM" (24h clock, 00:00..23:59, leading zeros required); may wrap
// midnight ("22:00-04:00"). Compared with the wall clock of the chosen zone,
// so on a fall-back night a local window is open during both passes.
class TimeWindow {
  public:
    static std::optional<TimeWindow> parse(std::string_view text, ScheduleParseError* err);

    bool contains(TimePoint t, TimeZone tz) const;  // start inclusive, end exclusive
    // t itself if contains(t), else the first instant after t at which the
    // window opens (on a spring-forward day that may be the transition itself).
    TimePoint next_open(TimePoint t, TimeZone tz) const;

    int start_minute() const noexcept { return start_; }  // minutes since midnight
    int end_minute() const noexcept { return end_; }

  private:
    TimeWindow(int start, int end) : start_(start), end_(end) {}
    bool contains_minute(int minute_of_day) const noexcept;

    int start_;
    int end_;
};

}  // namespace lrsched::jobs
