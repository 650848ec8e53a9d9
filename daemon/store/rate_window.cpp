#include "store/rate_window.hpp"

#include <algorithm>

namespace lrsched::store {

Result<void> restore_rate_window(Store& store,
                                 std::string_view tenant,
                                 ApiCallKind kind,
                                 limits::RateLimiter& limiter,
                                 Millis now) {
    // A row counts for no window once it is older than the longest one.
    Millis longest = 0;
    for (const auto& w : limiter.windows())
        longest = std::max<Millis>(longest, w.per().count());
    auto calls = store.api_calls_since(tenant, kind, now - longest);
    if (!calls) return std::move(calls).error();
    for (const auto& c : *calls) {
        limiter.restore(c.ended_at.value_or(now));
        if (!c.ended_at) {
            if (auto r = store.end_api_call(c.id, now); !r) return r;
        }
    }
    return ok();
}

}  // namespace lrsched::store
