// Sliding-window call counters: the simulator's enforcement of the submit and
// read rates, and its exact measurement of the busiest window a client
// produced. A call is counted in (t - window, t]; rejected calls count too.
// Holds one timestamp per call still inside the window (10..1500 normally).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <deque>

namespace lrsched::sim {

class SlidingWindow {
  public:
    SlidingWindow(int limit, double window)
        : limit_(static_cast<std::size_t>(limit)), window_(window) {}

    // Records a call at `now`; true when fewer than `limit` calls were
    // already inside the window, i.e. this call is within the rate.
    bool record(double now) {
        prune(now);
        const bool within = calls_.size() < limit_;
        calls_.push_back(now);
        return within;
    }

    // Seconds from `now` until a call would be within the rate again, if no
    // other call comes first: the moment enough old calls have left.
    double wait(double now) {
        prune(now);
        if (calls_.size() < limit_) return 0;
        const double leaves = calls_[calls_.size() - limit_] + window_;
        return std::max(0.0, leaves - now);
    }

    std::size_t count(double now) {
        prune(now);
        return calls_.size();
    }

  private:
    void prune(double now) {
        while (!calls_.empty() && calls_.front() <= now - window_)
            calls_.pop_front();
    }

    std::size_t limit_;
    double window_;
    std::deque<double> calls_;
};

// The most calls inside any half-open interval (t - window, t]: the maximum
// is always reached with t at a call, so one pass over the calls is exact.
class BusiestWindow {
  public:
    explicit BusiestWindow(double window) : window_(window) {}
    void add(double t) {
        while (!calls_.empty() && calls_.front() <= t - window_)
            calls_.pop_front();
        calls_.push_back(t);
        max_ = std::max(max_, calls_.size());
    }
    std::size_t max() const noexcept { return max_; }

  private:
    double window_;
    std::deque<double> calls_;
    std::size_t max_ = 0;
};

// Retry-After in whole seconds: never 0, so a client never retries at once.
inline long retry_after_seconds(double wait) {
    return std::max(1L, static_cast<long>(std::ceil(wait - 1e-9)));
}

}  // namespace lrsched::sim
