#include "limits/rate_limiter.hpp"

#include <algorithm>
#include <cassert>

namespace lrsched::limits {

RateLimiter::RateLimiter(const std::vector<WindowSpec>& windows) {
    assert(!windows.empty());
    for (const auto& w : windows)
        windows_.emplace_back(w.calls, w.per);
}

RateLimiter::CallId RateLimiter::begin(Millis now) {
    CallId id = 0;
    for (auto& w : windows_) {
        const CallId issued = w.begin(now);
        assert(id == 0 || issued == id);
        id = issued;
    }
    return id;
}

void RateLimiter::finish(CallId id, Millis at) {
    for (auto& w : windows_)
        w.finish(id, at);
}

void RateLimiter::restore(Millis at) {
    for (auto& w : windows_)
        w.restore(at);
}

std::optional<Millis> RateLimiter::next_allowed(Millis now) const {
    Millis latest = now;
    for (const auto& w : windows_) {
        const auto t = w.next_allowed(now);
        if (!t) return std::nullopt;
        latest = std::max(latest, *t);
    }
    return latest;
}

}  // namespace lrsched::limits
