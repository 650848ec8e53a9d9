// Time as the store keeps it: Unix milliseconds, one type for the whole
// daemon. Only the runtime reads the clock; everything below it takes `now`
// as an argument, so its decisions are tested against any time.
#pragma once

#include <cstdint>

namespace lrsched {

using Millis = std::int64_t;  // Unix time in milliseconds

// Unix time in milliseconds from the system clock: what the store keeps.
Millis unix_now();
// When a call that just ended is logged: unix_now() rounded up. The clock is
// truncated to whole milliseconds, so an end logged as unix_now() may be up
// to 1 ms early, and a call paced `per` after it could reach the server a
// fraction of a millisecond inside the window (the simulator caught it).
Millis call_end_now();

}  // namespace lrsched
