// Cron expressions: the 5-field parser (with byte offsets in its errors, so
// the job loader can point at the bad character) and the next-firing search.
// Semantics follow Vixie cron / cronie; see cron.hpp for what is accepted.
#include "jobs/cron.hpp"

#include "common/diagnostic.hpp"
#include "jobs/civil_time.hpp"

#include <array>
#include <bit>
#include <span>
#include <vector>

namespace lrsched::jobs {

using namespace std::chrono;

namespace {

// "nullopt if none within 8 years": 8 * 365.25 days from the start date.
constexpr int kHorizonDays = 2922;

constexpr std::array<std::string_view, 12> kMonthNames{"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames{"sun", "mon", "tue", "wed",
                                                    "thu", "fri", "sat"};

struct FieldSpec {
    std::string_view name;
    int min;
    int max;
    std::span<const std::string_view> names;  // names[i] means min + i (for months: 1 + i)
};

constexpr std::array<FieldSpec, 5> kFields{{
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day-of-month", 1, 31, {}},
    {"month", 1, 12, kMonthNames},
    {"day-of-week", 0, 7, kDayNames},  // 7 is Sunday again, folded onto 0 after parsing
}};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char to_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
bool is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');  // isspace in the C locale
}

bool fail(ScheduleParseError* err, std::size_t offset, std::string message) {
    if (err != nullptr) *err = {offset, std::move(message)};
    return false;
}

// Parses one field into a bit set (bit v set when value v is selected).
class FieldParser {
  public:
    FieldParser(const FieldSpec& spec,
                std::string_view text,
                std::size_t base,
                ScheduleParseError* err)
        : spec_(spec), text_(text), base_(base), err_(err) {}

    std::optional<std::uint64_t> parse() {
        std::uint64_t bits = 0;
        for (;;) {
            if (at_end() || peek() == ',') {
                fail_at(pos_, "empty list item");
                return std::nullopt;
            }
            if (!parse_item(bits)) return std::nullopt;
            if (at_end()) return bits;
            if (peek() != ',') {
                unexpected();
                return std::nullopt;
            }
            ++pos_;
        }
    }

  private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    bool fail_at(std::size_t pos, const std::string& what) {
        return fail(err_, base_ + pos, std::string(spec_.name) + " field: " + what);
    }

    bool unexpected() {
        if (at_end()) return fail_at(pos_, "expected a value");
        const char c = peek();
        if (c == 'L' || c == 'W' || c == '#' || c == '?') {
            return fail_at(pos_, quote_value(text_.substr(pos_, 1)) + " is not supported");
        }
        return fail_at(pos_, "unexpected " + quote_value(text_.substr(pos_, 1)));
    }

    // item := '*' ['/' step] | value ['-' value] ['/' step]
    bool parse_item(std::uint64_t& bits) {
        const std::size_t start = pos_;
        int lo = spec_.min;
        int hi = spec_.max;
        bool single = false;
        if (peek() == '*') {
            ++pos_;
        } else {
            if (!parse_value(lo)) return false;
            hi = lo;
            single = true;
            if (!at_end() && peek() == '-') {
                ++pos_;
                if (!parse_value(hi)) return false;
                single = false;
                if (hi < lo) {
                    return fail_at(
                        start,
                        "range " + quote_value(text_.substr(start, pos_ - start)) + " is reversed");
                }
            }
        }
        int step = 1;
        if (!at_end() && peek() == '/') {
            ++pos_;
            const std::size_t step_pos = pos_;
            if (at_end() || !is_digit(peek())) return unexpected();
            const int span = spec_.max - spec_.min + 1;
            step = parse_number();
            if (step < 1 || step > span) {
                return fail_at(step_pos, "step " +
                                             std::string(text_.substr(step_pos, pos_ - step_pos)) +
                                             " is out of range 1-" + std::to_string(span));
            }
            if (single) hi = spec_.max;  // "n/s" means "n-max/s"
        }
        for (int v = lo; v <= hi; v += step)
            bits |= std::uint64_t{1} << v;
        return true;
    }

    bool parse_value(int& value) {
        const std::size_t start = pos_;
        if (!at_end() && is_digit(peek())) {
            value = parse_number();
            if (value < spec_.min || value > spec_.max) {
                return fail_at(start, std::string(text_.substr(start, pos_ - start)) +
                                          " is out of range " + std::to_string(spec_.min) + "-" +
                                          std::to_string(spec_.max));
            }
            return true;
        }
        if (at_end() || !is_alpha(peek()) || spec_.names.empty()) return unexpected();
        while (!at_end() && is_alpha(peek()))
            ++pos_;
        const std::string_view word = text_.substr(start, pos_ - start);
        for (std::size_t i = 0; i < spec_.names.size(); ++i) {
            const std::string_view name = spec_.names[i];
            bool equal = word.size() == name.size();
            for (std::size_t k = 0; equal && k < word.size(); ++k) {
                equal = to_lower(word[k]) == name[k];
            }
            if (equal) {
                value = spec_.min + static_cast<int>(i);
                return true;
            }
        }
        return fail_at(start, "unknown name " + quote_value(word));
    }

    // Digits at pos_; saturates instead of overflowing, so "99999999999"
    // is reported as out of range.
    int parse_number() {
        int value = 0;
        while (!at_end() && is_digit(peek())) {
            value = value > 100'000 ? value : value * 10 + (peek() - '0');
            ++pos_;
        }
        return value;
    }

    const FieldSpec& spec_;
    std::string_view text_;
    std::size_t base_;
    ScheduleParseError* err_;
    std::size_t pos_ = 0;
};

// The smallest set bit >= from, or -1.
int next_bit(std::uint64_t mask, int from) {
    if (from >= 64) return -1;
    const std::uint64_t rest = mask >> from;
    return rest == 0 ? -1 : from + std::countr_zero(rest);
}

// The first firing on `day` at or after minute `from` that is strictly after `after`.
std::optional<TimePoint> first_in_day(std::uint64_t hour_bits,
                                      std::uint64_t minute_bits,
                                      sys_days day,
                                      int from,
                                      TimePoint after,
                                      TimeZone tz) {
    for (int h = next_bit(hour_bits, from / 60); h >= 0; h = next_bit(hour_bits, h + 1)) {
        const int first_minute = h == from / 60 ? from % 60 : 0;
        for (int m = next_bit(minute_bits, first_minute); m >= 0;
             m = next_bit(minute_bits, m + 1)) {
            // Skipped: a minute in a DST gap, the minute of `after` itself, and
            // the second pass of a fall-back hour (its first pass is before `after`).
            const auto t = detail::first_instant(day, h * 60 + m, tz);
            if (t && *t > after) return t;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<CronExpr> CronExpr::parse(std::string_view text, ScheduleParseError* err) {
    constexpr std::string_view kExpected =
        "expected 5 fields (minute hour day-of-month month day-of-week)";
    std::vector<std::pair<std::size_t, std::string_view>> fields;  // offset, text
    for (std::size_t pos = 0; pos < text.size();) {
        if (is_space(text[pos])) {
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        while (pos < text.size() && !is_space(text[pos]))
            ++pos;
        fields.emplace_back(start, text.substr(start, pos - start));
    }
    if (fields.empty()) {
        fail(err, 0, "empty schedule; " + std::string(kExpected));
        return std::nullopt;
    }
    if (fields[0].second.front() == '@') {
        fail(err, fields[0].first,
             "@macros such as " + quote_value(fields[0].second) +
                 " are not supported; use 5 fields, e.g. \"0 0 * * *\"");
        return std::nullopt;
    }
    if (fields.size() != 5) {
        const std::size_t offset = fields.size() < 5 ? text.size() : fields[5].first;
        fail(err, offset, std::string(kExpected) + ", got " + std::to_string(fields.size()));
        return std::nullopt;
    }

    CronExpr expr;
    std::array<std::uint64_t, 5> bits{};
    for (std::size_t i = 0; i < fields.size(); ++i) {
        auto parsed = FieldParser(kFields[i], fields[i].second, fields[i].first, err).parse();
        if (!parsed) return std::nullopt;
        bits[i] = *parsed;
    }
    expr.text_ = std::string(text);
    expr.minutes_ = bits[0];
    expr.hours_ = static_cast<std::uint32_t>(bits[1]);
    expr.days_ = static_cast<std::uint32_t>(bits[2]);
    expr.months_ = static_cast<std::uint32_t>(bits[3]);
    expr.weekdays_ = static_cast<std::uint32_t>((bits[4] | (bits[4] >> 7)) & 0x7f);  // 7 -> 0
    expr.dom_star_ = fields[2].second.front() == '*';
    expr.dow_star_ = fields[4].second.front() == '*';

    // With the OR rule the weekday alone fires every week; otherwise the
    // selected days must exist in some selected month (Feb 29 counts: leap
    // years come every 4 to 8 years, inside next_after's horizon).
    if (expr.dom_star_ || expr.dow_star_) {
        constexpr std::array<int, 13> kLongest{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool possible = false;
        for (int m = 1; m <= 12; ++m) {
            const std::uint64_t existing = ((std::uint64_t{1} << (kLongest[m] + 1)) - 1) & ~1ULL;
            if ((expr.months_ >> m & 1) != 0 && (expr.days_ & existing) != 0) possible = true;
        }
        if (!possible) {
            fail(err, fields[2].first,
                 "day-of-month field: never fires: none of the selected months has such a day");
            return std::nullopt;
        }
    }
    return expr;
}

bool CronExpr::day_matches(unsigned day_of_month, unsigned weekday) const noexcept {
    const bool dom = (days_ >> day_of_month & 1) != 0;
    const bool dow = (weekdays_ >> weekday & 1) != 0;
    return dom_star_ || dow_star_ ? dom && dow : dom || dow;
}

std::optional<TimePoint> CronExpr::next_after(TimePoint after, TimeZone tz) const {
    const detail::Civil start = detail::to_civil(after, tz);
    const sys_days last = start.day + days{kHorizonDays};
    sys_days day = start.day;
    int from = start.minute_of_day;  // earlier minutes of the first day are not after `after`
    while (day <= last) {
        const year_month_day ymd{day};
        if ((months_ >> static_cast<unsigned>(ymd.month()) & 1) == 0) {
            day = sys_days{year_month_day{ymd.year() / ymd.month() / 1} + months{1}};
            from = 0;
            continue;
        }
        if (day_matches(static_cast<unsigned>(ymd.day()), weekday{day}.c_encoding())) {
            if (auto t = first_in_day(hours_, minutes_, day, from, after, tz)) return t;
        }
        day += days{1};
        from = 0;
    }
    return std::nullopt;
}

}  // namespace lrsched::jobs
