#include "common/duration.hpp"

#include <doctest/doctest.h>

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
