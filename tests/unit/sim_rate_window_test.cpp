// The simulator's rate windows are an oracle (they decide every 429 and the
// stats that prove a client kept the limits), so they are checked here
// against a brute-force count, as the daemon's own limiter is.
#include "sim/model/rate_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

using lrsched::sim::BusiestWindow;
using lrsched::sim::SlidingWindow;

namespace {

// Calls in (t - window, t]; `closed` makes it deliberately wrong: [t - window, t].
std::size_t inside(const std::vector<double>& calls, double t, double window, bool closed = false) {
    return static_cast<std::size_t>(std::count_if(calls.begin(), calls.end(), [&](double c) {
        return c <= t && (closed ? c >= t - window : c > t - window);
    }));
}

}  // namespace

TEST_CASE("the simulator's sliding window agrees with a brute-force count") {
    std::mt19937 rng(99);
    for (int round = 0; round < 200; ++round) {
        const int limit = std::uniform_int_distribution<int>(1, 8)(rng);
        const double window = std::uniform_int_distribution<int>(1, 20)(rng);
        SlidingWindow w(limit, window);
        std::vector<double> calls;
        double now = 0;
        for (int step = 0; step < 60; ++step) {
            // Whole and half seconds, so calls land exactly on window edges often.
            now += std::uniform_int_distribution<int>(0, 6)(rng) / 2.0;
            const double wait = w.wait(now);
            // Reference: the earliest d >= 0 with fewer than `limit` calls in the window at now +
            // d.
            double expected = 0;
            if (inside(calls, now, window) >= static_cast<std::size_t>(limit)) {
                expected = 1e18;
                for (double c : calls) {
                    const double d = c + window - now;
                    if (d >= 0 && d < expected &&
                        inside(calls, now + d, window) < static_cast<std::size_t>(limit))
                        expected = d;
                }
            }
            CAPTURE(round);
            CAPTURE(step);
            REQUIRE(wait == doctest::Approx(expected));
            const bool within = inside(calls, now, window) < static_cast<std::size_t>(limit);
            REQUIRE(w.record(now) == within);
            calls.push_back(now);
            REQUIRE(w.count(now) == inside(calls, now, window));
        }
    }
}

TEST_CASE("the busiest window the simulator reports is the true maximum, edges excluded") {
    std::mt19937 rng(5);
    int wrong_reference_disagrees = 0;
    for (int round = 0; round < 200; ++round) {
        const double window = std::uniform_int_distribution<int>(1, 10)(rng);
        BusiestWindow b(window);
        std::vector<double> calls;
        double t = 0;
        for (int i = 0; i < 50; ++i) {
            t += std::uniform_int_distribution<int>(0, 4)(rng) / 2.0;
            calls.push_back(t);
            b.add(t);
        }
        std::size_t best = 0;
        std::size_t best_closed = 0;
        for (double c : calls) {
            best = std::max(best, inside(calls, c, window));
            best_closed = std::max(best_closed, inside(calls, c, window, true));
        }
        CAPTURE(round);
        REQUIRE(b.max() == best);
        if (best_closed != best) ++wrong_reference_disagrees;
    }
    CHECK(wrong_reference_disagrees > 0);  // the edge convention is really exercised
}
