// The read model as Prometheus text (exposition format 0.0.4), for
// `GET /metrics` on the control socket and on `metrics.listen` (issue 13,
// item 5). Every family is written with its HELP and TYPE lines, even while
// it has no sample (the daemon gave no live figures, or nothing happened
// yet), so a scraper sees the same set of names at every scrape. Session
// counts come from the store's report (every state, zeros included); the
// counters and the limits' use from the running daemon (view/live.hpp).
// Load: one text per scrape (every 15-60 s); a few dozen jobs x 14 states,
// a few tenants x 10 endpoints: some kilobytes.
#pragma once

#include "view/overview.hpp"

#include <string>
#include <string_view>

namespace lrsched::view {

// The version `lrsched --version` prints, for lrsched_build_info.
inline constexpr std::string_view kVersion = "0.1.0";

// The metrics of `o` at `o.live->at` (or the store report's `now` without
// live figures).
std::string prometheus_text(const Overview& o);

// A label value as the format writes it inside its quotes: backslash,
// double quote and newline escaped (\\ \" \n), invalid UTF-8 replaced with
// U+FFFD (the format is UTF-8 text).
std::string escape_label_value(std::string_view value);

}  // namespace lrsched::view
