// A rate window's memory across restarts: the api_calls rows that still
// count in a limiter's windows, replayed into it at start-up. The submit
// window (dispatch/dispatcher.cpp) and the read windows (mde/api_client.cpp)
// both start this way. Load: once per tenant and kind of call per start;
// reads at most an hour of rows (about 1,600 for the default read budget).
// The one place in store/ that knows limits/ (its pure limiter).
#pragma once

#include "common/clock.hpp"
#include "common/result.hpp"
#include "limits/rate_limiter.hpp"
#include "store/store.hpp"

#include <string_view>

namespace lrsched::store {

// Replays into `limiter` every call of `tenant` and `kind` that ended within
// the limiter's longest window before `now`, at its end time, and every
// call left in flight by the previous process, at `now`: it may have reached
// the server at any moment until now. Those rows are ended at `now` in the
// store, so a later start counts them at that instant, not at its own now.
Result<void> restore_rate_window(Store& store,
                                 std::string_view tenant,
                                 ApiCallKind kind,
                                 limits::RateLimiter& limiter,
                                 Millis now);

}  // namespace lrsched::store
