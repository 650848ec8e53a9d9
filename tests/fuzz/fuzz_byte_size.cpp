// Byte sizes (common/byte_size.hpp): no crash on any text, and any size
// parsed can be printed.
#include "common/byte_size.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto n = lrsched::parse_byte_size(text);
    if (!n) return 0;
    FUZZ_CHECK(!lrsched::format_byte_size(*n).empty());
    return 0;
}
