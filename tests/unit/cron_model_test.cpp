// Model check for CronExpr (SQLite style): random expressions are generated
// together with the sets they denote, and next_after is compared with a
// brute-force search that walks UTC civil time minute by minute through
// gmtime_r. A deliberately wrong reference must disagree, or the check is
// too weak to catch anything.
#include "jobs/cron.hpp"
#include "support/schedule_time.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

using lrsched::jobs::CronExpr;
using lrsched::jobs::ScheduleParseError;
using lrsched::jobs::TimeZone;

namespace {

struct Model {
    std::string text;
    std::uint64_t minutes = 0, hours = 0, days = 0, months = 0, weekdays = 0;  // bit per value
    bool dom_star = false, dow_star = false;
};

struct Case {
    Model model;
    std::time_t after_sec = 0;
    int after_ms = 0;
};

class Generator {
  public:
    explicit Generator(std::uint32_t seed) : rng_(seed) {}

    Case next() {
        Case c;
        Model& m = c.model;
        m.minutes = field(m.text, 0, 59, nullptr);
        m.hours = field(m.text, 0, 23, nullptr);
        m.days = field(m.text, 1, 31, nullptr);
        m.dom_star = m.text[m.text.rfind(' ') + 1] == '*';
        static const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec"};
        m.months = field(m.text, 1, 12, kMonths);
        static const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
        const std::size_t dow_at = m.text.size() + 1;
        const std::uint64_t dow = field(m.text, 0, 7, kDays);
        m.dow_star = m.text[dow_at] == '*';
        m.weekdays = (dow | dow >> 7) & 0x7f;  // 7 is Sunday
        m.text.erase(0, 1);                    // field() prefixes a space
        // 2000-01-01 .. 2040-01-01; a quarter on whole minutes, some with milliseconds.
        c.after_sec = uniform_time(946'684'800, 2'208'988'799);
        if (uniform(0, 3) == 0) c.after_sec -= c.after_sec % 60;
        if (uniform(0, 3) == 0) c.after_ms = uniform(1, 999);
        return c;
    }

  private:
    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    std::time_t uniform_time(std::time_t lo, std::time_t hi) {
        return std::uniform_int_distribution<std::time_t>(lo, hi)(rng_);
    }

    // A value as text: a name (in random case) now and then where the field has them.
    std::string value(int v, int lo, const char* const* names) {
        if (names == nullptr || v - lo > (lo == 0 ? 6 : 11) || uniform(0, 2) != 0) {
            return std::to_string(v);
        }
        std::string s = names[v - lo];
        for (char& ch : s) {
            if (uniform(0, 1) == 1) ch = static_cast<char>(ch - 'a' + 'A');
        }
        return s;
    }

    std::uint64_t field(std::string& text, int lo, int hi, const char* const* names) {
        text += ' ';
        std::uint64_t bits = 0;
        auto add = [&bits](int from, int to, int step) {
            for (int v = from; v <= to; v += step)
                bits |= std::uint64_t{1} << v;
        };
        if (uniform(0, 2) == 0) {
            text += '*';
            add(lo, hi, 1);
            return bits;
        }
        const int items = uniform(1, 3);
        for (int i = 0; i < items; ++i) {
            if (i > 0) text += ',';
            const int a = uniform(lo, hi);
            const int b = uniform(a, hi);
            const int step = uniform(0, 3) == 0 ? uniform(1, hi - lo + 1) : uniform(1, 5);
            switch (uniform(0, 4)) {
                case 0:
                    text += value(a, lo, names);
                    add(a, a, 1);
                    break;
                case 1:
                    text += value(a, lo, names) + "-" + value(b, lo, names);
                    add(a, b, 1);
                    break;
                case 2:
                    text += "*/" + std::to_string(step);
                    add(lo, hi, step);
                    break;
                case 3:
                    text += value(a, lo, names) + "-" + value(b, lo, names) + "/" +
                            std::to_string(step);
                    add(a, b, step);
                    break;
                default:  // "a/s" runs to the end of the field's range
                    text += value(a, lo, names) + "/" + std::to_string(step);
                    add(a, hi, step);
                    break;
            }
        }
        return bits;
    }

    std::mt19937 rng_;
};

enum class Flaw { none, dom_and_dow_always_both };

// Minute by minute from the first whole minute after `after`, up to `limit`;
// a day whose date does not match is left at once (the search stays brute
// force within every day that could fire).
std::optional<std::time_t> reference_next(const Model& m,
                                          std::time_t after,
                                          std::time_t limit,
                                          Flaw flaw) {
    for (std::time_t t = after - after % 60 + 60; t <= limit;) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        const bool dom = (m.days >> tm.tm_mday & 1) != 0;
        const bool dow = (m.weekdays >> tm.tm_wday & 1) != 0;
        const bool both = m.dom_star || m.dow_star || flaw == Flaw::dom_and_dow_always_both;
        const bool day = (m.months >> (tm.tm_mon + 1) & 1) != 0 && (both ? dom && dow : dom || dow);
        if (!day) {
            t += 86'400 - t % 86'400;
            continue;
        }
        if ((m.hours >> tm.tm_hour & 1) != 0 && (m.minutes >> tm.tm_min & 1) != 0) return t;
        t += 60;
    }
    return std::nullopt;
}

// True when some date of leap year 2024 has a selected month and day of month.
bool month_day_exists(const Model& m) {
    for (std::time_t t = 1'704'067'200; t < 1'735'689'600; t += 86'400) {  // 2024
        std::tm tm{};
        gmtime_r(&t, &tm);
        if ((m.months >> (tm.tm_mon + 1) & 1) != 0 && (m.days >> tm.tm_mday & 1) != 0) return true;
    }
    return false;
}

struct Tally {
    int compared = 0;
    int rejected = 0;
    int disagreements = 0;
};

// Runs `count` generated cases against the reference with `flaw`. With no
// flaw every case is CHECKed; with one, disagreements are only counted.
Tally run_model_check(int count, Flaw flaw) {
    constexpr std::time_t kHorizon = 4 * 366 * 86'400;  // less than next_after's 8 years
    Generator gen(20260101);
    Tally tally;
    for (int i = 0; i < count; ++i) {
        const Case c = gen.next();
        const auto after =
            std::chrono::system_clock::time_point{std::chrono::seconds{c.after_sec}} +
            std::chrono::milliseconds{c.after_ms};
        ScheduleParseError err{};
        const auto cron = CronExpr::parse(c.model.text, &err);
        if (!cron) {
            // Only "can never fire" may be refused, and only when it is true.
            ++tally.rejected;
            if (flaw == Flaw::none) {
                CAPTURE(c.model.text);
                CAPTURE(err.message);
                CHECK(err.message.find("never fires") != std::string::npos);
                CHECK((c.model.dom_star || c.model.dow_star));
                CHECK_FALSE(month_day_exists(c.model));
            }
            continue;
        }
        ++tally.compared;
        const auto want = reference_next(c.model, c.after_sec, c.after_sec + kHorizon, flaw);
        const auto got = cron->next_after(after, TimeZone::utc);
        const std::time_t got_sec =
            got ? std::chrono::floor<std::chrono::seconds>(*got).time_since_epoch().count() : 0;
        const bool agree =
            want ? got && got_sec == *want : !got || got_sec > c.after_sec + kHorizon;
        if (!agree) ++tally.disagreements;
        if (flaw == Flaw::none && !agree) {
            CAPTURE(c.model.text);
            CAPTURE(lrsched::test::iso(after));
            CAPTURE(lrsched::test::iso(got));
            CAPTURE(want ? lrsched::test::iso(std::chrono::system_clock::from_time_t(*want))
                         : std::string("none within the horizon"));
            CHECK(agree);
        }
    }
    return tally;
}

}  // namespace

TEST_CASE("cron next_after agrees with a brute-force reference on random expressions") {
    const Tally tally = run_model_check(500, Flaw::none);
    MESSAGE("compared " << tally.compared << ", rejected as never firing " << tally.rejected);
    CHECK(tally.disagreements == 0);
    CHECK(tally.compared >= 400);
}

TEST_CASE("cron model check catches a reference without the day-of-month OR day-of-week rule") {
    const Tally tally = run_model_check(500, Flaw::dom_and_dow_always_both);
    MESSAGE("the wrong reference disagreed " << tally.disagreements << " times");
    CHECK(tally.disagreements > 0);
}
