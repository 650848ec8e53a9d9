#include "limits/sliding_window.hpp"

#include "limits/rate_limiter.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

using lrsched::Duration;
using lrsched::Millis;
using lrsched::limits::RateLimiter;
using lrsched::limits::SlidingWindow;

namespace {

// The brute-force reference: the first millisecond T >= now at which fewer
// than `calls` calls lie in (T - per, T], in-flight calls counting as inside.
// `strict` false makes it deliberately wrong (a closed window [T - per, T]).
std::optional<Millis> reference(const std::vector<Millis>& done,
                                std::int64_t flying,
                                std::int64_t calls,
                                Millis per,
                                Millis now,
                                bool strict = true) {
    if (flying >= calls) return std::nullopt;
    for (Millis t = now;; ++t) {
        const auto inside = std::count_if(done.begin(), done.end(), [&](Millis a) {
            return strict ? a > t - per : a >= t - per;
        });
        // Finished calls logged in the future (a > t) still count: they are
        // recent. Only those at or before t - per have left the window.
        if (inside + flying < calls) return t;
    }
}

}  // namespace

TEST_CASE("a window lets `calls` calls through at once and the next one `per` after the first") {
    SlidingWindow w(10, Duration{3000});
    for (int i = 0; i < 10; ++i) {
        CHECK(w.allows(1000));
        w.finish(w.begin(1000), 1000 + i);
    }
    CHECK_FALSE(w.allows(1000));
    CHECK(w.next_allowed(1000) ==
          4000);  // the oldest call, at 1000, leaves the window (1000, 4000]
    CHECK(w.in_window(1000) == 10);
    CHECK(w.in_window(4000) == 9);
    CHECK(w.next_allowed(5000) == 5000);
}

TEST_CASE("calls in flight hold the window until they finish, then count at their end") {
    SlidingWindow w(2, Duration{1000});
    const auto a = w.begin(0);
    const auto b = w.begin(0);
    CHECK_FALSE(w.next_allowed(0).has_value());
    CHECK_FALSE(w.next_allowed(10'000).has_value());  // however late: their end is unknown
    w.finish(a, 700);  // a slow answer: the server saw it at some point up to 700
    CHECK(w.next_allowed(800) == 1700);
    w.finish(b, 50);
    CHECK(w.next_allowed(800) == 1050);
}

TEST_CASE("restored calls from before a restart count like any other") {
    SlidingWindow w(3, Duration{60'000});
    w.restore(10'000);
    w.restore(20'000);
    w.restore(30'000);
    CHECK(w.next_allowed(31'000) == 70'000);
}

TEST_CASE("sliding window agrees with a brute-force reference over random histories") {
    std::mt19937 rng(20261122);
    int disagreements_with_wrong_reference = 0;
    for (int round = 0; round < 300; ++round) {
        const std::int64_t calls = std::uniform_int_distribution<std::int64_t>(1, 6)(rng);
        const Millis per = std::uniform_int_distribution<Millis>(1, 50)(rng);
        SlidingWindow w(calls, Duration{per});
        std::vector<Millis> done;
        std::vector<std::pair<SlidingWindow::CallId, Millis>> flying;  // id, start
        Millis now = 0;
        for (int step = 0; step < 40; ++step) {
            now += std::uniform_int_distribution<Millis>(0, per / 2 + 1)(rng);
            const int op = std::uniform_int_distribution<int>(0, 2)(rng);
            if (op == 0 && w.allows(now)) {
                flying.emplace_back(w.begin(now), now);
            } else if (op == 1 && !flying.empty()) {
                const auto i =
                    std::uniform_int_distribution<std::size_t>(0, flying.size() - 1)(rng);
                const Millis end = now + std::uniform_int_distribution<Millis>(0, 3)(rng);
                w.finish(flying[i].first, end);
                done.push_back(end);
                flying.erase(flying.begin() + static_cast<std::ptrdiff_t>(i));
            }
            const auto expected =
                reference(done, static_cast<std::int64_t>(flying.size()), calls, per, now);
            CAPTURE(round);
            CAPTURE(step);
            REQUIRE(w.next_allowed(now) == expected);
            if (reference(done, static_cast<std::int64_t>(flying.size()), calls, per, now, false) !=
                expected)
                ++disagreements_with_wrong_reference;
        }
    }
    // The comparison bites: an off-by-one reference is caught.
    CHECK(disagreements_with_wrong_reference > 0);
}

TEST_CASE("a client that waits for next_allowed never lets the server see an over-full window") {
    // Whatever instant within [start, end] each call reaches the server, no
    // `calls + 1` of them can fit in one window: call i + calls must start
    // at least `per` after call i ended.
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        const std::int64_t calls = std::uniform_int_distribution<std::int64_t>(1, 10)(rng);
        const Millis per = 3000;
        SlidingWindow w(calls, Duration{per});
        std::vector<std::pair<Millis, Millis>> log;  // start, end, in start order
        std::vector<std::pair<SlidingWindow::CallId, Millis>> open;
        Millis now = 0;
        while (log.size() + open.size() < 200) {
            const auto next = w.next_allowed(now);
            const bool can_start = next && *next <= now;
            if (can_start && open.size() < 4) {
                open.emplace_back(w.begin(now), now);
                now += std::uniform_int_distribution<Millis>(0, 5)(rng);
                continue;
            }
            // Finish the oldest call after a random latency, or wait.
            if (!open.empty()) {
                const Millis end = std::max(
                    now, open.front().second + std::uniform_int_distribution<Millis>(1, 900)(rng));
                w.finish(open.front().first, end);
                log.emplace_back(open.front().second, end);
                open.erase(open.begin());
                now = std::max(now, end);
            } else {
                now = *next;
            }
        }
        std::sort(log.begin(), log.end());
        for (std::size_t i = 0; i + static_cast<std::size_t>(calls) < log.size(); ++i)
            REQUIRE(log[i + static_cast<std::size_t>(calls)].first >= log[i].second + per);
    }
}

TEST_CASE("a rate limiter holds every one of its windows") {
    RateLimiter r({{3, Duration{1000}}, {5, Duration{10'000}}});
    Millis now = 0;
    std::vector<Millis> starts;
    while (starts.size() < 11) {
        const auto t = r.next_allowed(now);
        REQUIRE(t.has_value());
        now = *t;
        r.finish(r.begin(now), now);
        starts.push_back(now);
    }
    // 3 at 0, then the hourly-like window of 5 per 10 s takes over.
    CHECK(starts ==
          std::vector<Millis>{0, 0, 0, 1000, 1000, 10'000, 10'000, 10'000, 11'000, 11'000, 20'000});
}
