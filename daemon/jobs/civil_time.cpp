// Instants to wall-clock time and back. UTC is pure calendar arithmetic
// (std::chrono, same results as gmtime_r/timegm); local time goes through
// localtime_r and mktime, which read TZ, so tests can pin a zone.
#include "jobs/civil_time.hpp"

#include <ctime>
#include <initializer_list>

namespace lrsched::jobs::detail {

using namespace std::chrono;

namespace {

Civil utc_civil(TimePoint t) {
    const sys_days day = floor<days>(t);
    const auto secs = floor<seconds>(t - day).count();  // 0..86399
    return {day, static_cast<int>(secs / 60), static_cast<int>(secs % 60), 0};
}

bool same_wall_clock(const std::tm& a, const std::tm& b) {
    return a.tm_year == b.tm_year && a.tm_mon == b.tm_mon && a.tm_mday == b.tm_mday &&
           a.tm_hour == b.tm_hour && a.tm_min == b.tm_min;
}

}  // namespace

Civil to_civil(TimePoint t, TimeZone tz) {
    if (tz == TimeZone::utc) return utc_civil(t);
    const std::time_t secs = floor<seconds>(t).time_since_epoch().count();
    std::tm tm{};
    // localtime_r fails only when the year overflows an int, which no
    // system_clock time point (+-292 years around 1970) can reach.
    if (localtime_r(&secs, &tm) == nullptr) return utc_civil(t);
    const year_month_day ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                             day{static_cast<unsigned>(tm.tm_mday)}};
    // tm_gmtoff is a glibc/BSD extension (visible because g++ defines _GNU_SOURCE).
    return {sys_days{ymd}, tm.tm_hour * 60 + tm.tm_min, tm.tm_sec, tm.tm_gmtoff};
}

std::optional<TimePoint> first_instant(sys_days day, int minute_of_day, TimeZone tz) {
    if (tz == TimeZone::utc) return TimePoint{day + minutes{minute_of_day}};
    const year_month_day ymd{day};
    std::tm want{};
    want.tm_year = static_cast<int>(ymd.year()) - 1900;
    want.tm_mon = static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
    want.tm_mday = static_cast<int>(static_cast<unsigned>(ymd.day()));
    want.tm_hour = minute_of_day / 60;
    want.tm_min = minute_of_day % 60;
    // mktime resolves an ambiguous wall time by tm_isdst and silently shifts
    // a nonexistent one, so ask for every reading and keep those that map
    // back to the same wall clock: none in a gap, two in a fall-back hour.
    std::optional<std::time_t> best;
    for (int isdst : {-1, 0, 1}) {
        std::tm tm = want;
        tm.tm_isdst = isdst;
        const std::time_t secs = std::mktime(&tm);
        std::tm back{};
        // -1 is mktime's error value; as an instant it is never a whole minute.
        if (secs == -1 || localtime_r(&secs, &back) == nullptr) continue;
        if (!same_wall_clock(want, back)) continue;
        if (!best || secs < *best) best = secs;
    }
    if (!best) return std::nullopt;
    return TimePoint{seconds{*best}};
}

}  // namespace lrsched::jobs::detail
