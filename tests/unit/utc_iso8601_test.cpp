// utc_iso8601 (common/text.hpp): the one writer of instants, at the three
// precisions the daemon and the commands print, checked against the three
// formatters it replaced (issue 12), byte for byte.
#include "common/text.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

using lrsched::TimePrecision;
using lrsched::utc_iso8601;

namespace {

// `validate`'s next firing (cli.cpp), as it was.
std::string old_cli_minutes(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", &tm);
    return buf;
}

// The OData filters' and the manifest's instants (text.cpp), as they were.
std::string old_seconds(std::int64_t unix_ms) {
    const std::time_t t = unix_ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// status and sessions (report_cmds.cpp), as they were.
std::string old_report(std::int64_t ms, bool with_ms) {
    std::int64_t secs = ms / 1000;
    std::int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        --secs;
    }
    const auto t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[48];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    if (with_ms) {
        std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
        out += buf;
    }
    return out + "Z";
}

}  // namespace

TEST_CASE("utc_iso8601 writes minutes, seconds or milliseconds, cut and never rounded") {
    const std::int64_t t = 1'714'529'761'999;  // 2024-05-01T02:16:01.999Z
    CHECK(utc_iso8601(t, TimePrecision::minutes) == "2024-05-01T02:16Z");
    CHECK(utc_iso8601(t) == "2024-05-01T02:16:01Z");
    CHECK(utc_iso8601(t, TimePrecision::seconds) == "2024-05-01T02:16:01Z");
    CHECK(utc_iso8601(t, TimePrecision::milliseconds) == "2024-05-01T02:16:01.999Z");
    CHECK(utc_iso8601(0, TimePrecision::milliseconds) == "1970-01-01T00:00:00.000Z");
    CHECK(utc_iso8601(-1, TimePrecision::milliseconds) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("utc_iso8601 writes what each of the three formatters it replaced wrote") {
    // About 400 instants from 1970 to 2103, an odd stride apart so that
    // their milliseconds, seconds, minutes and days all vary.
    for (std::int64_t ms = 0; ms < 4'200'000'000'000; ms += 9'876'543'211) {
        CAPTURE(ms);
        REQUIRE(utc_iso8601(ms) == old_seconds(ms));
        REQUIRE(utc_iso8601(ms) == old_report(ms, false));
        REQUIRE(utc_iso8601(ms, TimePrecision::milliseconds) == old_report(ms, true));
        const std::chrono::system_clock::time_point at{std::chrono::milliseconds(ms)};
        REQUIRE(utc_iso8601(ms, TimePrecision::minutes) == old_cli_minutes(at));
    }
}
