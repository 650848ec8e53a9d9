#include "common/text.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace lrsched {
namespace {

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_alnum(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

std::string_view trim(std::string_view s) noexcept {
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && ws(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && ws(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_machine_id(std::string_view s) noexcept {
    return s.size() == 40 && std::all_of(s.begin(), s.end(), is_hex);
}

bool is_hostname(std::string_view s) noexcept {
    if (s.empty() || s.size() > 253) return false;
    if (s.back() == '.') s.remove_suffix(1);  // a fully qualified name may end in '.'
    std::size_t start = 0;
    while (start <= s.size()) {
        const std::size_t dot = std::min(s.find('.', start), s.size());
        const std::string_view label = s.substr(start, dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!is_alnum(c) && c != '-' && c != '_') return false;
        start = dot + 1;
    }
    return true;
}

bool is_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > 100) return false;
    const auto lower_alnum = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
    };
    if (!lower_alnum(s.front())) return false;
    return std::all_of(s.begin(), s.end(),
                       [&](char c) { return lower_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool is_guid(std::string_view s) noexcept {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
    }
    return true;
}

bool has_control_chars(std::string_view s, bool tab_ok) noexcept {
    return std::any_of(s.begin(), s.end(), [tab_ok](char c) {
        const auto u = static_cast<unsigned char>(c);
        if (u == '\t') return !tab_ok;
        return u < 0x20 || u == 0x7f;
    });
}

bool is_https_base_url(std::string_view s) noexcept {
    constexpr std::string_view kScheme = "https://";
    if (s.substr(0, kScheme.size()) != kScheme) return false;
    s.remove_prefix(kScheme.size());
    if (!s.empty() && s.back() == '/') s.remove_suffix(1);
    if (s.empty()) return false;
    std::string_view host = s;
    if (const auto colon = s.rfind(':'); colon != std::string_view::npos && s.front() != '[') {
        host = s.substr(0, colon);
        const std::string_view port = s.substr(colon + 1);
        if (port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        if (std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) return false;
    }
    return is_hostname(host);
}

std::string utc_iso8601(Millis unix_ms, TimePrecision precision) {
    Millis secs = unix_ms / 1000;
    Millis frac = unix_ms % 1000;
    if (frac < 0) {
        frac += 1000;
        --secs;
    }
    const auto t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[48];
    const std::size_t n = precision == TimePrecision::minutes
                              ? std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm)
                              : std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out(buf, n);
    if (precision == TimePrecision::milliseconds) {
        std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
        out += buf;
    }
    return out + "Z";
}

}  // namespace lrsched
