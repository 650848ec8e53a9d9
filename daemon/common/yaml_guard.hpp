// What an operator-written file must pass before yaml-cpp sees it, and the
// guard on yaml-cpp's own event pass. yaml-cpp 0.7 is lenient (it accepts
// bytes that are not UTF-8, a quote never closed before the end of the file,
// a key without ':') and its scanner holds every token of a flow collection
// that could turn out to be a mapping key before it hands out a single event.
// These checks refuse all of that with file:line:col, in time linear in the
// file. Expected load: a few job files and one configuration per scan, each
// at most a few MiB.
#pragma once

#include "common/diagnostic.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched {

// The position of byte `offset` of `text` (line and byte column, 1-based, as
// yaml-cpp counts them).
Location location_at(const std::string& file, std::string_view text, std::size_t offset);

// Refuses text that is not UTF-8, with the position of the first byte of the
// first character that is not. Every operator-written file passes here
// before it is parsed: a job file's strings end up in JSON, which is UTF-8.
bool check_utf8_text(std::string_view text, const std::string& file, Diagnostics& diags);

}  // namespace lrsched
