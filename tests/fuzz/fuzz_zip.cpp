// The GetFile ZIP reader (evidence/zip_content.hpp) on hostile bytes,
// through libzip: no crash, no unbounded work (small caps here), and an
// accepted archive's entries sorted and hashed.
#include "evidence/zip_content.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lrsched::evidence;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    ZipLimits limits;
    limits.max_entries = 256;
    limits.max_total = 8 * 1024 * 1024;
    const auto z = read_zip_content_bytes(bytes, limits);
    if (!z) {
        FUZZ_CHECK(z.error().message.rfind("zip: ", 0) == 0);
        return 0;
    }
    FUZZ_CHECK(z->content_sha256.size() == 64);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < z->entries.size(); ++i) {
        FUZZ_CHECK(z->entries[i].sha256.size() == 64);
        FUZZ_CHECK(i == 0 || z->entries[i - 1].name <= z->entries[i].name);
        total += z->entries[i].bytes;
    }
    FUZZ_CHECK(total <= limits.max_total);
    return 0;
}
