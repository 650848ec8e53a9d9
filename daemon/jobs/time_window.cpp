// TimeWindow: the "HH:MM-HH:MM" daily window in which a job may start new
// sessions. Membership is by wall clock; next_open steps over UTC offset
// changes so a window starting inside a spring-forward gap opens at the
// transition instead of an hour late.
#include "jobs/civil_time.hpp"
#include "jobs/cron.hpp"

#include <string>

namespace lrsched::jobs {

using namespace std::chrono;

namespace {

constexpr std::string_view kForm = "(\"HH:MM-HH:MM\", e.g. \"01:00-05:00\")";

bool fail(ScheduleParseError* err, std::size_t offset, std::string message) {
    if (err != nullptr) *err = {offset, std::move(message)};
    return false;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// "HH:MM" at text[pos..pos+5) into minutes since midnight.
bool parse_clock(std::string_view text,
                 std::size_t pos,
                 std::string_view which,
                 int& minute_of_day,
                 ScheduleParseError* err) {
    const std::string prefix = "window " + std::string(which) + ": ";
    for (std::size_t i = 0; i < 5; ++i) {
        const std::size_t at = pos + i;
        const bool ok = at < text.size() && (i == 2 ? text[at] == ':' : is_digit(text[at]));
        if (!ok) {
            return fail(
                err, at,
                prefix + "expected HH:MM with two-digit hours and minutes " + std::string(kForm));
        }
    }
    const int hour = (text[pos] - '0') * 10 + (text[pos + 1] - '0');
    const int minute = (text[pos + 3] - '0') * 10 + (text[pos + 4] - '0');
    if (hour > 23) {
        return fail(err, pos,
                    prefix + "hour " + std::string(text.substr(pos, 2)) +
                        " is out of range 00-23 (midnight is 00:00)");
    }
    if (minute > 59) {
        return fail(
            err, pos + 3,
            prefix + "minute " + std::string(text.substr(pos + 3, 2)) + " is out of range 00-59");
    }
    minute_of_day = hour * 60 + minute;
    return true;
}

long utc_offset_at(sys_seconds t, TimeZone tz) {
    return detail::to_civil(t, tz).utc_offset;
}

// The first whole second in (lo, hi] whose UTC offset differs from `offset`,
// given that lo has that offset and hi does not.
sys_seconds first_offset_change(sys_seconds lo, sys_seconds hi, long offset, TimeZone tz) {
    while (hi - lo > seconds{1}) {
        const sys_seconds mid = lo + (hi - lo) / 2;
        if (utc_offset_at(mid, tz) == offset) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return hi;
}

}  // namespace

std::optional<TimeWindow> TimeWindow::parse(std::string_view text, ScheduleParseError* err) {
    if (text.empty()) {
        fail(err, 0, "window: empty; expected " + std::string(kForm));
        return std::nullopt;
    }
    int start = 0;
    int end = 0;
    if (!parse_clock(text, 0, "start", start, err)) return std::nullopt;
    if (text.size() <= 5 || text[5] != '-') {
        fail(err, 5, "window: expected '-' after the start time " + std::string(kForm));
        return std::nullopt;
    }
    if (!parse_clock(text, 6, "end", end, err)) return std::nullopt;
    if (text.size() > 11) {
        fail(err, 11, "window: unexpected text after the end time " + std::string(kForm));
        return std::nullopt;
    }
    if (start == end) {
        fail(err, 0, "window: empty window; omit `window` for no restriction");
        return std::nullopt;
    }
    return TimeWindow{start, end};
}

bool TimeWindow::contains_minute(int minute_of_day) const noexcept {
    if (start_ < end_) return start_ <= minute_of_day && minute_of_day < end_;
    return minute_of_day >= start_ || minute_of_day < end_;  // wraps midnight
}

bool TimeWindow::contains(TimePoint t, TimeZone tz) const {
    return contains_minute(detail::to_civil(t, tz).minute_of_day);
}

TimePoint TimeWindow::next_open(TimePoint t, TimeZone tz) const {
    TimePoint at = t;
    // Each round either reaches the start time with no offset change on the
    // way, or stops at the one offset change in between and looks again from
    // there. A DST day needs two rounds; the bound only guards odd zones.
    for (int round = 0; round < 8; ++round) {
        const detail::Civil now = detail::to_civil(at, tz);
        if (contains_minute(now.minute_of_day)) return at;
        const int ahead =
            (start_ - now.minute_of_day + detail::kMinutesPerDay) % detail::kMinutesPerDay;
        const sys_seconds here = floor<seconds>(at);
        const sys_seconds open = here - seconds{now.second} + minutes{ahead};
        if (utc_offset_at(open, tz) == now.utc_offset) return open;
        at = first_offset_change(here, open, now.utc_offset, tz);
    }
    return at;  // not reached with real zones (at most a few offset changes a year)
}

}  // namespace lrsched::jobs
