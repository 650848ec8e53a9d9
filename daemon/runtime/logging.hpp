// The daemon's log (SPEC §7, issue 13 item 6): where it goes (stderr, which
// the journal takes under systemd, or `log.file` with size-based rotation)
// and how each record reads (`log.format`: text or one JSON object per
// line, common/log_text.hpp). Set up once at start-up, before anything logs.
// Private to runtime/ and its tests.
#pragma once

#include "config/config.hpp"

#include <spdlog/formatter.h>

#include <memory>

namespace lrsched::runtime {

// Makes the default logger per `log`. Returns false after saying why on
// stderr (a log file that cannot be opened); the message quotes the path.
bool set_up_logging(const config::LogConfig& log);

// Whether stderr is the journal's stream: $JOURNAL_STREAM ("DEV:INODE",
// set by systemd) names the device and inode of the stream it connected,
// and `stderr_dev`/`stderr_ino` are stderr's (a child's stderr redirected
// elsewhere keeps the variable but not the inode).
bool is_journal_stream(const char* journal_stream,
                       unsigned long long stderr_dev,
                       unsigned long long stderr_ino);

// `inner`, each record prefixed with its syslog priority as sd-daemon(3)
// says (`<6>` info, `<4>` warning, `<3>` error, ...): journald takes the
// prefix off and stores the priority, so `journalctl -p warning` finds the
// daemon's warnings and errors.
std::unique_ptr<spdlog::formatter> journal_formatter(std::unique_ptr<spdlog::formatter> inner);

}  // namespace lrsched::runtime
