// Durations (common/duration.hpp): no crash, and what parses prints back to
// a spelling that parses to the same value.
#include "common/duration.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto d = lrsched::parse_duration(text);
    if (!d) return 0;
    FUZZ_CHECK(d->count() >= 0);
    const auto again = lrsched::parse_duration(lrsched::format_duration(*d));
    FUZZ_CHECK(again && *again == *d);
    return 0;
}
