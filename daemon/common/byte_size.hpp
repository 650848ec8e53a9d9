// Sizes as operators write them in the configuration: an unsigned integer
// and one unit. `B`, `KB`, `MB`, `GB`, `TB` are powers of 1000 and `KiB`,
// `MiB`, `GiB`, `TiB` powers of 1024 (as disks and `du --si` / `du` count).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched {

// nullopt for anything else: no sign, no fraction, no space, no bare
// number, nothing over 2^63 - 1 bytes.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// A readable spelling for messages: 4000000000 -> "4 GB", 4294967296 ->
// "4 GiB", 1536 -> "1.5 KB", 999 -> "999 bytes".
std::string format_byte_size(std::uint64_t bytes);

}  // namespace lrsched
