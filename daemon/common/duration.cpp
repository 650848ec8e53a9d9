#include "common/duration.hpp"

#include <cstdint>
#include <limits>

namespace lrsched {

std::optional<Duration> parse_duration(std::string_view text) {
    std::size_t i = 0;
    std::uint64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
        ++i;
    }
    if (i == 0 || i > 15) return std::nullopt;  // 15 digits keeps every unit within int64 ms
    const std::string_view unit = text.substr(i);
    std::uint64_t ms_per_unit = 0;
    if (unit == "ms")
        ms_per_unit = 1;
    else if (unit == "s")
        ms_per_unit = 1000;
    else if (unit == "m")
        ms_per_unit = 60'000;
    else if (unit == "h")
        ms_per_unit = 3'600'000;
    else if (unit == "d")
        ms_per_unit = 86'400'000;
    else
        return std::nullopt;
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / ms_per_unit)
        return std::nullopt;
    return Duration{static_cast<std::int64_t>(n * ms_per_unit)};
}

std::string format_duration(Duration d) {
    const auto ms = d.count();
    struct Unit {
        std::int64_t ms;
        const char* name;
    };
    static constexpr Unit kUnits[] = {
        {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
    if (ms != 0) {
        for (const auto& u : kUnits)
            if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
    }
    return std::to_string(ms) + "ms";
}

std::string two_unit_duration(std::int64_t seconds) {
    constexpr std::int64_t kUnits[] = {86'400, 3'600, 60, 1};
    constexpr const char* kNames[] = {"d", "h", "m", "s"};
    std::string out;
    int shown = 0;
    for (std::size_t i = 0; i < 4 && shown < 2; ++i) {
        const std::int64_t n = seconds / kUnits[i];
        if (n == 0 && shown == 0 && i < 3) continue;
        if (n == 0 && shown > 0) break;
        out += (shown ? " " : "") + std::to_string(n) + kNames[i];
        seconds -= n * kUnits[i];
        ++shown;
    }
    return out;
}

}  // namespace lrsched
