// The YAML guard (common/yaml_guard.hpp) with caps small enough for short
// inputs to cross them: the lookahead cut (yaml-cpp then parses a truncated
// stream), the expansion, node and depth caps. No crash, every message
// positioned, and a text that passes loads into a tree.
#include "common/yaml_reader.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const lrsched::YamlLimits tiny{4096, 6, 64, 256, 48};
    lrsched::Diagnostics diags;
    const auto root = lrsched::load_yaml(text, "/fuzz/caps.yaml", tiny, diags);
    for (const auto& d : diags.all())
        FUZZ_CHECK(d.where.line >= 1 && d.where.col >= 1);
    FUZZ_CHECK(root.has_value() == !diags.has_errors());
    FUZZ_CHECK(diags.error_count() <= 1);
    return 0;
}
