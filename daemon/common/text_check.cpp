#include "common/text_check.hpp"

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

// The code point of the n-byte UTF-8 character at text[i] (n from utf8_length).
unsigned code_point(std::string_view text, std::size_t i, std::size_t n) {
    static constexpr unsigned kLead[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    unsigned cp = static_cast<unsigned char>(text[i]) & kLead[n];
    for (std::size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3fu);
    return cp;
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

bool check_text(std::string_view text, const std::string& file, Diagnostics& diags) {
    const auto refuse = [&](std::size_t i, const std::string& message) {
        diags.error(location_at(file, text, i), message);
        return false;
    };
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_length(text, i);
        const auto b = static_cast<unsigned char>(text[i]);
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%02x", b);
        if (n == 0)
            return refuse(i, std::string("text is not UTF-8 (byte ") + hex +
                                 "); save the file as UTF-8 (ISO-8859-1 and Windows-1252 are "
                                 "not accepted)");
        // YAML's printable set (1.2, c-printable); yaml-cpp lets the rest into
        // scalars. A lone CR is a line break to YAML but not to yaml-cpp.
        const unsigned cp = code_point(text, i, n);
        if (b == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))
            return refuse(i,
                          "carriage return not followed by a line feed; save the file with LF "
                          "or CRLF line ends");
        if (b == 0)
            return refuse(i, "NUL byte: YAML files are text (saved as UTF-16? save it as UTF-8)");
        const bool control = (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
                             (cp >= 0x7f && cp <= 0x9f && cp != 0x85) || cp == 0xfffe ||
                             cp == 0xffff;
        if (control) {
            std::snprintf(hex, sizeof hex, "U+%04X", cp);
            return refuse(i, std::string("control character ") + hex +
                                 " in the text; YAML files hold printable text (write it as an "
                                 "escape inside double quotes, such as \"\\e\")");
        }
        i += n;
    }
    return true;
}

}  // namespace lrsched
