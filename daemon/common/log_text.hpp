// What may go into a log line (SPEC §7): every value from outside (a server's
// answer, a job file, the configuration) is escaped, so that no input can
// start a new line, forge a `key=value` field or send a terminal sequence
// (CWE-117). Two layers:
//   - call sites write each outside value as a field through log_value();
//   - the logger's formatter (text_log_formatter) escapes any control or
//     non-ASCII byte still left in a message, so a call site that was missed
//     cannot break a line either.
// A text record is then `TIME LEVEL message`, one line, printable ASCII; a
// field value is bare ([A-Za-z0-9._:/@-]+) or quote_value()'s quoted form,
// which reads back unambiguously. The JSON format (json_log_formatter) reads
// those fields back out of the message: one object per line, with the whole
// message and each field as a key.
//
// Expected load: every log line; a sweep logs a few lines per session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class formatter;
}

namespace lrsched {

// Long enough for a whole DNS name (253 bytes), short enough that a hostile
// value cannot flood a line.
inline constexpr std::size_t kLogValueMax = 256;
// An error message: our own words around quoted outside values.
inline constexpr std::size_t kLogMessageMax = 1024;

// A field value from outside: bare when it is 1 to max_len bytes of
// [A-Za-z0-9._:/@-], otherwise quote_value(value, max_len) (quoted, escaped,
// cut with a marker). `machine=` + log_value(name) is one field whatever the
// name holds.
std::string log_value(std::string_view value, std::size_t max_len = kLogValueMax);

// An error message as a field value (`error=` + log_error(msg)): always
// quoted, so the words of a message, or a server's text inside it, never
// read as fields of the line.
std::string log_error(std::string_view message);

// Whether every byte of `text` is printable ASCII (0x20-0x7e).
bool is_printable_ascii(std::string_view text) noexcept;

// The formatter's escaping: `message` with every byte outside printable
// ASCII written as \n, \r, \t or \xNN. Backslashes are left alone: the
// quoted values in a message have escaped theirs already.
std::string escape_log_message(std::string_view message);

// "%Y-%m-%dT%H:%M:%S.%eZ LEVEL message" in UTC, with escape_log_message()
// applied to every message: the daemon's text log format.
std::unique_ptr<spdlog::formatter> text_log_formatter();

// The `key=value` fields of a message as log_value() and log_error() wrote
// them, in order, values unquoted: a key is [a-z_]+ at the start of a word,
// a value bare (up to the next space) or quote_value()'s quoted form. Quoted
// text that is no field's value (a server's words inside an error) is
// skipped whole: nothing inside quotes is a field. A quote never closed
// ends the fields (the message was cut).
std::vector<std::pair<std::string, std::string>> log_fields(std::string_view message);

// One JSON log record, without its newline: {"time": ISO 8601 UTC to the
// millisecond, "level", "message": the whole message, then each field of
// log_fields() as a string-valued key (the first of a repeated key wins; a
// field named time, level or message is written as field_time, ...).
// Invalid UTF-8 is replaced with U+FFFD and control bytes are escaped, so
// the record is one line whatever the message holds.
std::string json_log_record(std::int64_t unix_ms, std::string_view level, std::string_view message);

// json_log_record() for every message: the daemon's `log.format: json`.
std::unique_ptr<spdlog::formatter> json_log_formatter();

}  // namespace lrsched
