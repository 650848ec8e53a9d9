#include "common/clock.hpp"

#include <chrono>

namespace lrsched {

Millis unix_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Millis call_end_now() {
    return unix_now() + 1;
}

}  // namespace lrsched
