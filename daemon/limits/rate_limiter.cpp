#include "limits/rate_limiter.hpp"

#include <algorithm>
#include <cassert>

namespace lrsched::limits {

RateLimiter::RateLimiter(const std::vector<WindowSpec>& windows) : ids_(windows.size()) {
    assert(!windows.empty());
    for (const auto& w : windows)
        windows_.emplace_back(w.calls, w.per);
}

RateLimiter::CallId RateLimiter::begin(Millis now) {
    const CallId id = next_id_++;
    for (std::size_t w = 0; w < windows_.size(); ++w)
        ids_[w].emplace_back(id, windows_[w].begin(now));
    return id;
}

void RateLimiter::finish(CallId id, Millis at) {
    for (std::size_t w = 0; w < windows_.size(); ++w) {
        auto& v = ids_[w];
        const auto it =
            std::find_if(v.begin(), v.end(), [id](const auto& p) { return p.first == id; });
        assert(it != v.end());
        windows_[w].finish(it->second, at);
        v.erase(it);
    }
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
