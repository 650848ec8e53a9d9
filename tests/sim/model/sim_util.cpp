// Hashing, GUIDs, MDE-style UTC timestamps, URL decoding and OpenSSL digests
// for the simulator's model (see sim_util.hpp).
#include "sim/model/sim_util.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>
#include <cstdio>

namespace lrsched::sim {

std::uint64_t hash_of(std::uint64_t seed, std::string_view text, std::uint64_t salt) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return mix64(mix64(seed ^ h) + salt);
}

std::string to_hex(const unsigned char* data, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0xf];
    }
    return out;
}

std::string hex64(std::uint64_t v) {
    std::array<unsigned char, 8> b{};
    for (int i = 7; i >= 0; --i, v >>= 8)
        b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(v & 0xff);
    return to_hex(b.data(), b.size());
}

std::string GuidSource::next() {
    ++counter_;
    const std::string a = hex64(mix64(seed_ * 31 + counter_));
    const std::string b = hex64(mix64(mix64(seed_) ^ counter_));
    // 8-4-4-4-12 with version 4 and the RFC 4122 variant, like Guid.NewGuid().
    std::string g = a.substr(0, 8) + "-" + a.substr(8, 4) + "-4" + a.substr(13, 3) + "-";
    g += "89ab"[static_cast<std::size_t>(b[0]) % 4];
    g += b.substr(1, 3) + "-" + b.substr(4, 12);
    return g;
}

namespace {

using namespace std::chrono;

struct Split {
    year_month_day ymd;
    Ticks in_day;  // ticks since midnight
};

Split split(Ticks t) {
    const Ticks per_day = 86'400 * kTicksPerSecond;
    Ticks days = t / per_day;
    Ticks rest = t % per_day;
    if (rest < 0) {
        rest += per_day;
        --days;
    }
    return {year_month_day{sys_days{std::chrono::days{days}}}, rest};
}

std::string date_time(Ticks t, char sep) {
    const Split s = split(t);
    const long long secs = s.in_day / kTicksPerSecond;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u%c%02lld:%02lld:%02lld", int(s.ymd.year()),
                  unsigned(s.ymd.month()), unsigned(s.ymd.day()), sep, secs / 3600, secs / 60 % 60,
                  secs % 60);
    return buf;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string iso_time(Ticks t) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%07lld",
                  static_cast<long long>(split(t).in_day % kTicksPerSecond));
    return date_time(t, 'T') + frac + "Z";
}

std::string iso_time_seconds(Ticks t) {
    return date_time(t, 'T') + "Z";
}

std::optional<Ticks> parse_iso_time(std::string_view s) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!digits(s, 0, 4, y) || s.size() < 11 || s[4] != '-' || !digits(s, 5, 2, mo) ||
        s[7] != '-' || !digits(s, 8, 2, d))
        return std::nullopt;
    std::size_t pos = 10;
    Ticks frac = 0;
    if (s[pos] == 'T') {
        if (!digits(s, pos + 1, 2, h) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, mi))
            return std::nullopt;
        pos += 6;
        if (pos < s.size() && s[pos] == ':') {
            if (!digits(s, pos + 1, 2, sec)) return std::nullopt;
            pos += 3;
            if (pos < s.size() && s[pos] == '.') {
                ++pos;
                Ticks scale = kTicksPerSecond;
                std::size_t n = 0;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && n < 7) {
                    scale /= 10;
                    frac += (s[pos] - '0') * scale;
                    ++pos;
                    ++n;
                }
                if (n == 0) return std::nullopt;
            }
        }
    }
    if (pos + 1 != s.size() || s[pos] != 'Z') return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                             day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
    const Ticks days = sys_days{ymd}.time_since_epoch().count();
    return (days * 86'400 + h * 3600 + mi * 60 + sec) * kTicksPerSecond + frac;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_as_space) {
            c = ' ';
        }
        if (c == '\0') return std::nullopt;
        out += c;
    }
    return out;
}

std::string percent_encode(std::string_view s) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
        if (keep) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kDigits[c >> 4];
            out += kDigits[c & 0xf];
        }
    }
    return out;
}

std::optional<Params> parse_params(std::string_view text) {
    Params out;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const std::string_view part = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (part.empty()) continue;
        const auto eq = part.find('=');
        auto name = percent_decode(part.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
        if (!name || !value) return std::nullopt;
        out.emplace_back(std::move(*name), std::move(*value));
    }
    return out;
}

const std::string* find_param(const Params& params, std::string_view name) {
    for (const auto& [k, v] : params)
        if (k == name) return &v;
    return nullptr;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return to_hex(md, len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
    return to_hex(md, len);
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) noexcept {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace lrsched::sim
