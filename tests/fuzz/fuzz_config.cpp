// The configuration loader (config/config.hpp) on any text: no crash, every
// message positioned, refused exactly when an error was reported.
#include "config/config.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    lrsched::Diagnostics diags;
    const auto cfg = lrsched::config::parse_config(text, "/etc/lrsched/lrsched.yaml", diags);
    for (const auto& d : diags.all())
        FUZZ_CHECK(d.where.line >= 1 && d.where.col >= 1);
    FUZZ_CHECK(cfg.has_value() == !diags.has_errors());
    return 0;
}
