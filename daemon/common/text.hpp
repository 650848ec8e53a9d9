// Small predicates and helpers on operator-supplied text, shared by the
// configuration, job and target-list parsers; and the one writer of
// instants as text (ISO 8601, UTC) for the API's filters, the manifest and
// the commands' output.
#pragma once

#include "common/clock.hpp"

#include <string>
#include <string_view>

namespace lrsched {

std::string_view trim(std::string_view s) noexcept;
std::string to_lower(std::string_view s);

// 40 hexadecimal characters, either case (MDE machine ids are SHA-1 hex).
bool is_machine_id(std::string_view s) noexcept;

// A DNS name as MDE reports computerDnsName: dot-separated labels of letters,
// digits, '-' and '_' (NetBIOS-derived names carry underscores), no label
// longer than 63 or starting/ending with '-', at most 253 characters.
bool is_hostname(std::string_view s) noexcept;

// Job and tenant names: [a-z0-9][a-z0-9._-]*, at most 100 characters. They
// become folder names under the evidence tree, so nothing else is allowed.
bool is_name(std::string_view s) noexcept;

// 8-4-4-4-12 hexadecimal, either case.
bool is_guid(std::string_view s) noexcept;

// Any byte below 0x20 or 0x7f (tab included when tab_ok is false).
bool has_control_chars(std::string_view s, bool tab_ok = true) noexcept;

// "https://host[:port]" with an optional trailing '/', nothing after the
// authority. The daemon never speaks plain HTTP to the API.
bool is_https_base_url(std::string_view s) noexcept;

// How much of an instant utc_iso8601 writes. The digits below it are cut,
// never rounded: an instant is never shown later than it was.
enum class TimePrecision {
    minutes,       // "2024-05-01T02:16Z": the next firing `validate` prints
    seconds,       // "2024-05-01T02:16:01Z": as OData and the API write instants
    milliseconds,  // "2024-05-01T02:16:01.250Z": status --json, exact to the store
};

// A unix time in milliseconds as ISO 8601 in UTC, to `precision`. Times
// before 1970 count down from the second before (floor, as the calendar does).
std::string utc_iso8601(Millis unix_ms, TimePrecision precision = TimePrecision::seconds);

}  // namespace lrsched
