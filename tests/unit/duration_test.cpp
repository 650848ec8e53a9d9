#include "common/duration.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using lrsched::Duration;
using lrsched::format_duration;
using lrsched::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("durations in every documented unit parse to milliseconds") {
    CHECK(parse_duration("250ms") == Duration{250});
    CHECK(parse_duration("30s") == Duration{30s});
    CHECK(parse_duration("10m") == Duration{10min});
    CHECK(parse_duration("6h") == Duration{6h});
    CHECK(parse_duration("3d") == Duration{72h});
    CHECK(parse_duration("0s") == Duration{0});
}

TEST_CASE("malformed durations are refused") {
    for (const char* bad : {"", "s", "10", "-5s", "1.5s", "1h30m", "10 s", "10S", "3w", "10sec",
                            " 1s", "1s ", "99999999999999999d", "1000000000000000ms"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_duration(bad).has_value());
    }
}

TEST_CASE("durations format to their shortest exact spelling") {
    CHECK(format_duration(Duration{250}) == "250ms");
    CHECK(format_duration(Duration{90s}) == "90s");
    CHECK(format_duration(Duration{10min}) == "10m");
    CHECK(format_duration(Duration{72h}) == "3d");
    CHECK(format_duration(Duration{1500}) == "1500ms");
    CHECK(format_duration(Duration{0}) == "0ms");
}

TEST_CASE("two_unit_duration: the two largest units, the second only when not zero") {
    using lrsched::two_unit_duration;
    CHECK(two_unit_duration(0) == "0s");
    CHECK(two_unit_duration(45) == "45s");
    CHECK(two_unit_duration(60) == "1m");
    CHECK(two_unit_duration(125) == "2m 5s");
    CHECK(two_unit_duration(3'600) == "1h");
    CHECK(two_unit_duration(3'605) == "1h");
    CHECK(two_unit_duration(11'100 + 20) == "3h 5m");
    CHECK(two_unit_duration(187'200) == "2d 4h");
    CHECK(two_unit_duration(86'400 + 59) == "1d");
}

namespace {

// The two formatters two_unit_duration replaced (issue 12), as they were:
// status's ETA (seconds rounded up) and dispatch::approx_duration's loop
// (from 10 s, rounded to the nearest).
std::string old_status_eta(std::int64_t ms) {
    std::int64_t s = (ms + 999) / 1000;
    constexpr std::int64_t kUnits[] = {86400, 3600, 60, 1};
    constexpr const char* kNames[] = {"d", "h", "m", "s"};
    std::string out;
    int shown = 0;
    for (std::size_t i = 0; i < 4 && shown < 2; ++i) {
        const std::int64_t n = s / kUnits[i];
        if (n == 0 && shown == 0 && i < 3) continue;
        if (n == 0 && shown > 0) break;
        out += (shown ? " " : "") + std::to_string(n) + kNames[i];
        s -= n * kUnits[i];
        ++shown;
    }
    return out;
}

std::string old_approx_loop(std::int64_t ms) {
    std::int64_t s = (ms + 500) / 1000;
    constexpr std::int64_t kUnits[] = {86'400, 3'600, 60, 1};
    constexpr const char* kNames[] = {"d", "h", "m", "s"};
    std::string out;
    for (std::size_t i = 0; i < 4; ++i) {
        const std::int64_t n = s / kUnits[i];
        s -= n * kUnits[i];
        if (out.empty() && n == 0) continue;
        if (n > 0) out += (out.empty() ? "" : " ") + std::to_string(n) + kNames[i];
        if (!out.empty() && i + 1 < 4) {
            const std::int64_t m = s / kUnits[i + 1];
            if (m > 0) out += " " + std::to_string(m) + kNames[i + 1];
            break;
        }
    }
    return out;
}

}  // namespace

TEST_CASE("two_unit_duration writes what status's ETA and approx_duration wrote before") {
    using lrsched::two_unit_duration;
    // Every second up to three hours, each around its rounding points; then
    // strides of 59 s past two days and of a few hours past a year: every
    // unit's boundaries and a zero second unit under each are crossed.
    std::vector<std::int64_t> ms;
    for (std::int64_t s = 0; s <= 3 * 3'600; ++s)
        for (const std::int64_t frac : {0, 1, 499, 500, 999})
            ms.push_back(s * 1000 + frac);
    for (std::int64_t s = 0; s <= 3 * 86'400; s += 59)
        ms.push_back(s * 1000 + 500);
    for (std::int64_t v = 0; v < 400LL * 86'400'000; v += 86'400'000 / 7 + 13)
        ms.push_back(v);
    for (const std::int64_t v : ms) {
        CAPTURE(v);
        REQUIRE(two_unit_duration((v + 999) / 1000) == old_status_eta(v));
        if (v >= 9'950) REQUIRE(two_unit_duration((v + 500) / 1000) == old_approx_loop(v));
    }
}
