// Small pure helpers of the simulator's model: deterministic hashing and ids,
// UTC timestamps in MDE's spelling, URL query decoding, SHA-256 and HMAC.
// Called on every request; none of them allocates more than its result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrsched::sim {

// splitmix64's finaliser: a good 64-bit mixer, so (seed, counter) pairs give
// independent-looking values without any RNG state to carry around.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// A 64-bit hash of (seed, text, salt): FNV-1a over the text, then mixed.
std::uint64_t hash_of(std::uint64_t seed, std::string_view text, std::uint64_t salt = 0) noexcept;

// A double in [0, 1) from the top 53 bits of h.
inline double unit_double(std::uint64_t h) noexcept {
    return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// Version-4-shaped GUIDs from (seed, counter): deterministic per run.
class GuidSource {
  public:
    explicit GuidSource(std::uint64_t seed) : seed_(seed) {}
    std::string next();

  private:
    std::uint64_t seed_;
    std::uint64_t counter_ = 0;
};

std::string to_hex(const unsigned char* data, std::size_t n);
std::string hex64(std::uint64_t v);  // 16 lowercase hex digits

// Time as ticks of 100 ns since the Unix epoch (MDE prints 7 fractional digits).
using Ticks = std::int64_t;
inline constexpr Ticks kTicksPerSecond = 10'000'000;

// "2021-02-04T15:36:52.7788848Z"
std::string iso_time(Ticks t);
// "2021-02-04T15:36:52Z" (SAS `se`, Entra timestamps)
std::string iso_time_seconds(Ticks t);
// YYYY-MM-DD, optionally Thh:mm[:ss[.f{1,7}]], then Z; nullopt otherwise.
std::optional<Ticks> parse_iso_time(std::string_view text);

bool iequals(std::string_view a, std::string_view b) noexcept;
std::string lower(std::string_view s);

// %XX decoding (and '+' as space when asked); nullopt on a bad escape or a
// decoded NUL byte.
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space);
std::string percent_encode(std::string_view s);  // keeps unreserved characters only

// name=value pairs of a query string or a form body, decoded.
using Params = std::vector<std::pair<std::string, std::string>>;
std::optional<Params> parse_params(std::string_view text);
const std::string* find_param(const Params& params, std::string_view name);

std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Splits a request target into path and query (without '?').
std::pair<std::string_view, std::string_view> split_target(std::string_view target) noexcept;

}  // namespace lrsched::sim
