#include "common/byte_size.hpp"

#include <array>
#include <cstdio>
#include <limits>

namespace lrsched {
namespace {

struct Unit {
    std::string_view name;
    std::uint64_t bytes;
};

constexpr std::uint64_t kKi = 1024;
constexpr std::array kUnits = {
    Unit{"B", 1},
    Unit{"KB", 1000},
    Unit{"MB", 1000ULL * 1000},
    Unit{"GB", 1000ULL * 1000 * 1000},
    Unit{"TB", 1000ULL * 1000 * 1000 * 1000},
    Unit{"KiB", kKi},
    Unit{"MiB", kKi* kKi},
    Unit{"GiB", kKi* kKi* kKi},
    Unit{"TiB", kKi* kKi* kKi* kKi},
};
constexpr std::size_t kKilobyte = 1;  // kUnits[1..4]: KB, MB, GB, TB
constexpr std::size_t kTerabyte = 4;

}  // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    std::size_t i = 0;
    std::uint64_t n = 0;
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
        if (n > kMax) return std::nullopt;
        ++i;
    }
    if (i == 0) return std::nullopt;
    const std::string_view unit = text.substr(i);
    for (const Unit& u : kUnits) {
        if (u.name != unit) continue;
        if (n > kMax / u.bytes) return std::nullopt;
        return n * u.bytes;
    }
    return std::nullopt;
}

std::string format_byte_size(std::uint64_t bytes) {
    // The largest unit of either family in which the size is exact...
    const Unit* exact = nullptr;
    for (const Unit& u : kUnits)
        if (u.bytes > 1 && bytes >= u.bytes && bytes % u.bytes == 0 &&
            (!exact || u.bytes > exact->bytes))
            exact = &u;
    if (exact) return std::to_string(bytes / exact->bytes) + " " + std::string(exact->name);
    // ...else one decimal in the largest decimal unit it reaches.
    for (std::size_t i = kTerabyte; i >= kKilobyte; --i) {
        const Unit& u = kUnits[i];
        if (bytes < u.bytes) continue;
        std::array<char, 32> buf{};
        std::snprintf(buf.data(), buf.size(), "%.1f %s",
                      static_cast<double>(bytes) / static_cast<double>(u.bytes),
                      std::string(u.name).c_str());
        return buf.data();
    }
    return std::to_string(bytes) + " bytes";
}

}  // namespace lrsched
