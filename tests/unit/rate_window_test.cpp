// store::restore_rate_window: a limiter rebuilt at start-up from the
// api_calls rows holds the calls of its longest window, a call left in
// flight counts as happening at the restart, and that row is ended then.
#include "store/rate_window.hpp"

#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <chrono>

using lrsched::Millis;
using lrsched::limits::RateLimiter;
using lrsched::store::ApiCallKind;
using lrsched::store::restore_rate_window;
using lrsched::store::Store;
using lrsched::test::TempDir;
using lrsched::test::unwrap;
using namespace std::chrono_literals;

namespace {

constexpr Millis kNow = 1'700'000'000'000;

// A call of `tenant` and `kind` that started at `start` and ended at `end`.
void ended_call(Store& s, const char* tenant, ApiCallKind kind, Millis start, Millis end) {
    unwrap(s.end_api_call(unwrap(s.begin_api_call(tenant, kind, start)), end));
}

}  // namespace

TEST_CASE("restore_rate_window replays the longest window's calls, in-flight ones at now") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    ended_call(s, "contoso", ApiCallKind::read, kNow - 7'300'000, kNow - 7'200'000);  // 2 h ago
    ended_call(s, "contoso", ApiCallKind::read, kNow - 1'800'100, kNow - 1'800'000);  // 30 min
    ended_call(s, "contoso", ApiCallKind::read, kNow - 10'100, kNow - 10'000);        // 10 s
    const auto flying = unwrap(s.begin_api_call("contoso", ApiCallKind::read, kNow - 5'000));
    // Another kind and another tenant count in their own windows only.
    ended_call(s, "contoso", ApiCallKind::submit, kNow - 1'100, kNow - 1'000);
    ended_call(s, "fabrikam", ApiCallKind::read, kNow - 1'100, kNow - 1'000);

    RateLimiter reads({{3, 60s}, {4, 1h}});
    unwrap(restore_rate_window(s, "contoso", ApiCallKind::read, reads, kNow));

    // The minute holds the call of 10 s ago and the one in flight, counted
    // at the restart; the hour adds the one of 30 minutes ago, not 2 h.
    CHECK(reads.windows()[0].in_window(kNow) == 2);
    CHECK(reads.windows()[1].in_window(kNow) == 3);
    // One more call fits the minute (3) and fills the hour (4): after it the
    // hour frees a place when the call of 30 minutes ago leaves it.
    CHECK(reads.next_allowed(kNow) == kNow);
    reads.finish(reads.begin(kNow), kNow);
    CHECK(reads.next_allowed(kNow) == kNow - 1'800'000 + 3'600'000);

    // The call in flight is ended at the restart in the store: a later start
    // counts it there, not at its own now again.
    const auto rows = unwrap(s.api_calls_since("contoso", ApiCallKind::read, kNow - 60'000));
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].id == flying);
    CHECK(rows[1].ended_at == kNow);
    RateLimiter later({{2, 60s}});
    unwrap(restore_rate_window(s, "contoso", ApiCallKind::read, later, kNow + 20'000));
    CHECK(later.windows()[0].in_window(kNow + 20'000) == 2);
    // Full until the call of 10 s before the first restart leaves the minute.
    CHECK(later.next_allowed(kNow + 20'000) == kNow - 10'000 + 60'000);
}

TEST_CASE("restore_rate_window with a single window reads only that window's rows") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    ended_call(s, "contoso", ApiCallKind::submit, kNow - 90'100, kNow - 90'000);
    const auto flying = unwrap(s.begin_api_call("contoso", ApiCallKind::submit, kNow - 90'000));
    ended_call(s, "contoso", ApiCallKind::submit, kNow - 30'100, kNow - 30'000);

    RateLimiter submits({{2, 60s}});
    unwrap(restore_rate_window(s, "contoso", ApiCallKind::submit, submits, kNow));
    // The call of 30 s ago and the one left in flight (started 90 s ago, so
    // it may have reached the server until now) fill the window.
    CHECK(submits.windows()[0].in_window(kNow) == 2);
    CHECK(submits.next_allowed(kNow) == kNow + 30'000);
    const auto rows = unwrap(s.api_calls_since("contoso", ApiCallKind::submit, 0));
    REQUIRE(rows.size() == 3);
    for (const auto& r : rows)
        if (r.id == flying) CHECK(r.ended_at == kNow);
}

TEST_CASE("restore_rate_window on an empty log leaves the limiter empty") {
    TempDir dir;
    auto s = unwrap(Store::open((dir.path() / "state.db").string()));
    RateLimiter reads({{100, 60s}, {1500, 1h}});
    unwrap(restore_rate_window(s, "contoso", ApiCallKind::read, reads, kNow));
    CHECK(reads.windows()[0].in_window(kNow) == 0);
    CHECK(reads.windows()[1].in_window(kNow) == 0);
    CHECK(reads.allows(kNow));
}
