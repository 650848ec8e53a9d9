// Conversions between instants and wall-clock ("civil") time for the schedule
// code, in UTC or in the process's local zone. Private to daemon/jobs: the
// only place that calls localtime_r/mktime, so the DST rules live here.
#pragma once

#include "jobs/cron.hpp"

#include <chrono>
#include <optional>

namespace lrsched::jobs::detail {

inline constexpr int kMinutesPerDay = 24 * 60;

struct Civil {
    std::chrono::sys_days day;  // the wall-clock date, counted like a UTC date
    int minute_of_day = 0;      // 0..1439
    int second = 0;             // 0..59 (60 only on a leap second, which glibc never shows)
    long utc_offset = 0;        // seconds east of UTC in effect at that instant; 0 in UTC
};

// The wall clock at `t` (sub-second part dropped).
Civil to_civil(TimePoint t, TimeZone tz);

// The earliest instant at which the wall clock shows `day` at minute_of_day:00,
// or nullopt if it never does (the minute falls in a spring-forward gap).
std::optional<TimePoint> first_instant(std::chrono::sys_days day, int minute_of_day, TimeZone tz);

}  // namespace lrsched::jobs::detail
