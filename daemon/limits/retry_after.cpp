#include "limits/retry_after.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <string>

namespace lrsched::limits {
namespace {

constexpr Millis kMaxDelayMs = 86'400'000;

std::optional<int> month_index(std::string_view m) {
    static constexpr std::array<std::string_view, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < kMonths.size(); ++i)
        if (kMonths[i] == m) return static_cast<int>(i);
    return std::nullopt;
}

bool digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int num(std::string_view s) {
    int n = 0;
    for (char c : s)
        n = n * 10 + (c - '0');
    return n;
}

// IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": the only form servers may
// send (RFC 9110 §5.6.7); the two obsolete forms are not accepted.
std::optional<Millis> parse_imf_fixdate(std::string_view s) {
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
        return std::nullopt;
    const auto day = s.substr(5, 2), year = s.substr(12, 4), hh = s.substr(17, 2),
               mm = s.substr(20, 2), ss = s.substr(23, 2);
    const auto month = month_index(s.substr(8, 3));
    if (!month || !digits(day) || !digits(year) || !digits(hh) || !digits(mm) || !digits(ss))
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = num(year) - 1900;
    tm.tm_mon = *month;
    tm.tm_mday = num(day);
    tm.tm_hour = num(hh);
    tm.tm_min = num(mm);
    tm.tm_sec = num(ss);
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    const std::time_t t = ::timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return static_cast<Millis>(t) * 1000;
}

}  // namespace

std::optional<Millis> parse_retry_after(std::string_view value, Millis now) {
    const std::string_view v = trim(value);
    if (digits(v)) {
        if (v.size() > 9) return now + kMaxDelayMs;
        return now + std::min<Millis>(static_cast<Millis>(num(v)) * 1000, kMaxDelayMs);
    }
    if (auto at = parse_imf_fixdate(v)) return std::clamp(*at, now, now + kMaxDelayMs);
    return std::nullopt;
}

}  // namespace lrsched::limits
