// The text forms of `lrsched status` and `lrsched sessions` for people at a
// terminal: the CLI prints them when it reads the store itself, and the
// control API serves them (`format=text`) when the daemon answers, so both
// paths print the same thing. Whatever a server or a file put in a field is
// cut to one line without control characters. Load: one per operator
// command; a few dozen jobs, up to 10^5 session lines.
#pragma once

#include "config/config.hpp"
#include "store/report.hpp"
#include "view/overview.hpp"

#include <cstdint>
#include <string>

namespace lrsched::view {

// One block per job (tenant, paused, last error, latest run, a progress bar,
// sessions by state, ETA), then one line per tenant (calls in the last
// minute against its limit, sessions on the server, and with the daemon's
// live figures its slot use).
std::string status_text(const Overview& o, const config::Config& cfg);

// A header and one line per session of the job's latest run, or a line
// saying the job has not run yet.
std::string sessions_text(const store::SessionsReport& listed);

// "[#######.............]  35%  140/400": `width` cells, the percentage
// rounded down (100% only when every session finished).
std::string progress_bar(std::int64_t finished, std::int64_t total, int width = 20);

}  // namespace lrsched::view
