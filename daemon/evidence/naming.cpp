#include "evidence/naming.hpp"

#include <algorithm>

namespace lrsched::evidence {
namespace {

bool is_separator(char c) {
    return c == '\\' || c == '/';
}

// Characters Windows refuses in names, path separators, and every control
// character: replaced, so evidence folders copy to any file system.
bool is_unsafe(unsigned char c) {
    return c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' || c == '*' || c == '?' ||
           c == '"' || c == '<' || c == '>' || c == '|';
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (b < 0x80) return 1;
    if ((b & 0xe0) == 0xc0 && b >= 0xc2)
        n = 2;
    else if ((b & 0xf0) == 0xe0)
        n = 3;
    else if ((b & 0xf8) == 0xf0 && b <= 0xf4)
        n = 4;
    else
        return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    return n;
}

// The longest prefix of `s` of at most `max` bytes that ends on a character
// boundary.
std::string truncate_utf8(std::string_view s, std::size_t max) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t n = std::max<std::size_t>(1, utf8_length(s, i));
        if (i + n > max) break;
        i += n;
    }
    return std::string(s.substr(0, i));
}

}  // namespace

std::string safe_component(std::string_view raw, std::size_t max_bytes) {
    std::string out;
    out.reserve(std::min(raw.size(), max_bytes));
    for (std::size_t i = 0; i < raw.size();) {
        const std::size_t n = utf8_length(raw, i);
        if (n == 0 || (n == 1 && is_unsafe(static_cast<unsigned char>(raw[i])))) {
            if (out.size() + 1 > max_bytes) break;
            out += '_';
            i += n == 0 ? 1 : n;
            continue;
        }
        if (out.size() + n > max_bytes) break;  // never cut a character in two
        out.append(raw.substr(i, n));
        i += n;
    }
    // Trailing dots and spaces vanish on Windows; "." and ".." are not names.
    while (!out.empty() && (out.back() == '.' || out.back() == ' '))
        out.back() = '_';
    if (out.find_first_not_of("._") == std::string::npos) out = "_";  // "", ".", "..", "._"
    return out;
}

std::string_view remote_basename(std::string_view remote) {
    const auto last = std::find_if(remote.rbegin(), remote.rend(), is_separator);
    std::string_view base = remote.substr(static_cast<std::size_t>(remote.rend() - last));
    // "C:x.log" (drive-relative) names x.log.
    if (base.size() >= 2 && base[1] == ':' &&
        ((base[0] >= 'A' && base[0] <= 'Z') || (base[0] >= 'a' && base[0] <= 'z')))
        base.remove_prefix(2);
    return base;
}

std::string artifact_name(int index, std::string_view type, std::string_view remote) {
    const std::string prefix = std::to_string(index) + "-" + safe_component(type, 32) + "-";
    return prefix + safe_component(remote_basename(remote), kMaxComponent - prefix.size());
}

std::string machine_folder(std::string_view computer_dns_name, std::string_view machine_id) {
    return safe_component(computer_dns_name.empty() ? machine_id : computer_dns_name);
}

std::string unique_name(const std::string& name,
                        const std::function<bool(const std::string&)>& taken) {
    if (!taken(name)) return name;
    const std::size_t dot = name.rfind('.');
    const bool has_ext = dot != std::string::npos && dot > 0;
    const std::string stem = has_ext ? name.substr(0, dot) : name;
    const std::string ext = has_ext ? name.substr(dot) : "";
    const std::string ext_kept = truncate_utf8(ext, kMaxComponent / 2);
    for (int n = 2;; ++n) {
        const std::string suffix = "~" + std::to_string(n);
        // Stay within kMaxComponent: shorten the stem, never the suffix.
        std::string candidate =
            truncate_utf8(stem, kMaxComponent - suffix.size() - ext_kept.size()) + suffix +
            ext_kept;
        if (!taken(candidate)) return candidate;
    }
}

}  // namespace lrsched::evidence
