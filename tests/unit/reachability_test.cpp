// Reachability: the backoff while a tenant's API gives no answer, and the
// two moments an outage is logged (its start and its end).
#include "mde/reachability.hpp"

#include <doctest/doctest.h>

using lrsched::Errc;
using lrsched::make_error_code;
using lrsched::Millis;
using lrsched::mde::is_unreachable;
using lrsched::mde::Reachability;

TEST_CASE("no answer is a network failure, an HTTP status or our own refusal is not") {
    for (const Errc e : {Errc::connect_failed, Errc::tls_error, Errc::timeout, Errc::no_response,
                         Errc::response_truncated, Errc::protocol_error})
        CHECK(is_unreachable(make_error_code(e)));
    for (const Errc e :
         {Errc::invalid_input, Errc::permission_denied, Errc::limit_exceeded, Errc::io_error,
          Errc::database_error, Errc::server_error, Errc::cancelled, Errc::internal_error})
        CHECK_FALSE(is_unreachable(make_error_code(e)));
}

TEST_CASE("the delay doubles from the base, never below half of it, up to the five-minute cap") {
    Reachability r(1'000);
    CHECK_FALSE(r.failing());
    Millis now = 0;
    Millis previous_ceiling = 0;
    for (int i = 1; i <= 20; ++i) {
        const auto low = r.failed("connection refused", now, 0.0);
        CHECK(low.first == (i == 1));
        const Millis ceiling = std::min<Millis>(1'000LL << std::min(i - 1, 20), 300'000);
        CHECK(low.retry_at - now == ceiling / 2);
        CHECK(ceiling >= previous_ceiling);
        previous_ceiling = ceiling;
        now = low.retry_at;
    }
    CHECK(previous_ceiling == Reachability::kCap);
    // The drawn half: with the highest draw the whole ceiling.
    Reachability high(1'000);
    CHECK(high.failed("x", 0, 1.0).retry_at == 1'000);
    CHECK(high.failed("x", 0, 0.999999).retry_at <= 2'000);
}

TEST_CASE("the base is a poll interval clamped to 250 ms .. 5 s") {
    Reachability fast(10);
    CHECK(fast.failed("x", 0, 1.0).retry_at == 250);
    Reachability slow(30'000);
    CHECK(slow.failed("x", 0, 1.0).retry_at == 5'000);
}

TEST_CASE("an answer ends the outage once, with its start, failures and last error") {
    Reachability r(500);
    CHECK_FALSE(r.answered().has_value());
    r.failed("connection refused", 1'000, 0.5);
    r.failed("certificate has expired", 2'000, 0.5);
    CHECK(r.failing());
    CHECK(r.since() == 1'000);
    CHECK(r.last_error() == "certificate has expired");
    const auto outage = r.answered();
    REQUIRE(outage.has_value());
    CHECK(outage->since == 1'000);
    CHECK(outage->failures == 2);
    CHECK(outage->last_error == "certificate has expired");
    CHECK_FALSE(r.failing());
    CHECK_FALSE(r.answered().has_value());
    // A new outage starts from the base again, and is logged again.
    const auto f = r.failed("timed out", 10'000, 0.0);
    CHECK(f.first);
    CHECK(f.retry_at == 10'250);
}
