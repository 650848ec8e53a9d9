#include "limits/retry_after.hpp"

#include <doctest/doctest.h>

using lrsched::limits::parse_retry_after;

TEST_CASE("Retry-After in seconds is obeyed from the moment the answer arrived") {
    CHECK(parse_retry_after("7", 1'000) == 8'000);
    CHECK(parse_retry_after(" 0 ", 1'000) == 1'000);
    CHECK(parse_retry_after("120", 0) == 120'000);
}

TEST_CASE("Retry-After as an HTTP date is obeyed, a past date meaning now") {
    // 1994-11-06T08:49:37Z = 784111777 s.
    const std::int64_t before = 784'111'700'000;
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", before) == 784'111'777'000);
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784'111'800'000) == 784'111'800'000);
}

TEST_CASE("absurd Retry-After values are capped at a day") {
    CHECK(parse_retry_after("99999999999999", 0) == 86'400'000);
    CHECK(parse_retry_after("Sun, 06 Nov 2094 08:49:37 GMT", 0) == 86'400'000);
}

TEST_CASE("unreadable Retry-After values are refused, leaving the caller's backoff in charge") {
    for (const char* bad : {"", "soon", "-5", "1.5", "7s", "Sunday, 06-Nov-94 08:49:37 GMT",
                            "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
                            "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_retry_after(bad, 0).has_value());
    }
}
