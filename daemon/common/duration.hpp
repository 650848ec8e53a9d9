// Durations as operators write them in job files and configuration:
// an unsigned integer and one unit, `250ms`, `30s`, `10m`, `6h`, `3d`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched {

using Duration = std::chrono::milliseconds;

// nullopt for anything else: no sign, no fraction, no compound (`1h30m`),
// no space, nothing that overflows 64-bit milliseconds.
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact spelling: 90000ms -> "90s", 86400000ms -> "1d".
std::string format_duration(Duration d);

}  // namespace lrsched
