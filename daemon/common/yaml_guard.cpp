#include "common/yaml_guard.hpp"

#include <algorithm>
#include <cstdio>

namespace lrsched {
namespace {

// Length of the UTF-8 character starting at text[i], or 0 when the bytes
// there are not one (Unicode 15, table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) -> unsigned {
        return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0x100;
    };
    const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
        return byte(k) >= lo && byte(k) <= hi;
    };
    const unsigned b = byte(0);
    if (b < 0x80) return 1;
    if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
    if (b == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if (b == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (b >= 0xe1 && b <= 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (b == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

}  // namespace

Location location_at(const std::string& file, std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    const std::string_view before = text.substr(0, offset);
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const std::size_t nl = before.rfind('\n');
    const std::size_t col = nl == std::string_view::npos ? offset + 1 : offset - nl;
    return {file, static_cast<int>(line), static_cast<int>(col)};
}

bool check_utf8_text(std::string_view text, const std::string& file, Diagnostics& diags) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_length(text, i);
        if (n == 0) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(text[i]));
            diags.error(location_at(file, text, i),
                        std::string("text is not UTF-8 (byte ") + hex +
                            "); save the file as UTF-8 (ISO-8859-1 and Windows-1252 are not "
                            "accepted)");
            return false;
        }
        i += n;
    }
    return true;
}

}  // namespace lrsched
