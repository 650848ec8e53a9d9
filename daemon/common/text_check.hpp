// Checks on the raw text of an operator-written file (job file,
// configuration, target list) before any parser sees it: UTF-8, YAML's
// printable characters, line ends. Positions are line and byte column,
// 1-based, as yaml-cpp counts them. Linear in the text; a file is at most
// a few MiB.
#pragma once

#include "common/diagnostic.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace lrsched {

// The position of byte `offset` of `text` (line and byte column, 1-based, as
// yaml-cpp counts them).
Location location_at(const std::string& file, std::string_view text, std::size_t offset);

// Refuses text that is not UTF-8, holds a character outside YAML's printable
// set (control characters other than tab and line ends), or ends a line with
// a carriage return alone, at the first such byte. Every operator-written
// file passes here before it is parsed: a job file's strings end up in JSON,
// which is UTF-8, and in log lines.
bool check_text(std::string_view text, const std::string& file, Diagnostics& diags);

}  // namespace lrsched
