// Retry-After values (limits/retry_after.hpp), delay-seconds or HTTP-date,
// with `now` from the first 4 bytes (1970-2106): no crash, and the instant
// given is never before now nor more than a day after it.
#include "fuzz_check.hpp"
#include "limits/retry_after.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    std::uint32_t raw = 0;
    std::memcpy(&raw, data, 4);
    const lrsched::Millis now = static_cast<lrsched::Millis>(raw) * 1000;
    const std::string_view value(reinterpret_cast<const char*>(data) + 4, size - 4);
    const auto until = lrsched::limits::parse_retry_after(value, now);
    if (!until) return 0;
    FUZZ_CHECK(*until >= now);
    FUZZ_CHECK(*until - now <= 24LL * 3600 * 1000);
    return 0;
}
