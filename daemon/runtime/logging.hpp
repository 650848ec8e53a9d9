// The daemon's log (SPEC §7, issue 13 item 6): where it goes (stderr, which
// the journal takes under systemd, or `log.file` with size-based rotation)
// and how each record reads (`log.format`: text or one JSON object per
// line, common/log_text.hpp). Set up once at start-up, before anything logs.
// Private to runtime/ and its tests.
#pragma once

#include "config/config.hpp"

namespace lrsched::runtime {

// Makes the default logger per `log`. Returns false after saying why on
// stderr (a log file that cannot be opened); the message quotes the path.
bool set_up_logging(const config::LogConfig& log);

}  // namespace lrsched::runtime
