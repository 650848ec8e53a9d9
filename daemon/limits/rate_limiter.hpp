// A limit made of several sliding windows that must all hold, such as the
// read budget of SPEC §1 (100 per minute and 1500 per hour). Pure; one per
// tenant and kind of call.
//
// Folder limits/: rate windows, the concurrency gate, Retry-After; includes
// sessions/, common/.
#pragma once

#include "limits/sliding_window.hpp"

#include <optional>
#include <vector>

namespace lrsched::limits {

struct WindowSpec {
    std::int64_t calls;
    Duration per;
};

class RateLimiter {
  public:
    explicit RateLimiter(const std::vector<WindowSpec>& windows);

    using CallId = SlidingWindow::CallId;
    CallId begin(Millis now);
    void finish(CallId id, Millis at);
    void restore(Millis at);

    // The earliest instant >= now at which every window allows one more
    // call; nullopt while some window is filled by calls in flight.
    std::optional<Millis> next_allowed(Millis now) const;
    bool allows(Millis now) const {
        const auto t = next_allowed(now);
        return t && *t <= now;
    }
    const std::vector<SlidingWindow>& windows() const noexcept { return windows_; }

  private:
    // Every window sees every call, so they issue the same ids in step and a
    // call's id names it in all of them.
    std::vector<SlidingWindow> windows_;
};

}  // namespace lrsched::limits
