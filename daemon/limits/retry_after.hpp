// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. A 429 or
// 503 that carries it is obeyed to the millisecond; one without it, or with
// a value we cannot read, falls back to the caller's jittered backoff.
#pragma once

#include "limits/sliding_window.hpp"

#include <optional>
#include <string_view>

namespace lrsched::limits {

// The instant the server asked us to wait for, given the answer arrived at
// `now`. nullopt for an absent or unreadable value. A date in the past means
// "now". Absurd delays are capped at one day.
std::optional<Millis> parse_retry_after(std::string_view value, Millis now);

}  // namespace lrsched::limits
