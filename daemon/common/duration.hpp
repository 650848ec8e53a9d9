// Durations as operators write them in job files and configuration:
// an unsigned integer and one unit, `250ms`, `30s`, `10m`, `6h`, `3d`; and
// the approximate form the commands print for people ("2m 5s").
#pragma once

#include <chrono>
#include <cstdint>
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

// A whole number of seconds in its two largest units, the second left out
// when it is zero: 45 -> "45s", 125 -> "2m 5s", 3'600 -> "1h", 11'100 ->
// "3h 5m", 187'200 -> "2d 4h", 0 -> "0s". The caller rounds to seconds as
// its figure needs (an ETA rounds up, a median to the nearest).
std::string two_unit_duration(std::int64_t seconds);

}  // namespace lrsched
