// What a YAML file must pass before yaml-cpp builds a tree of it. yaml-cpp
// 0.7 is lenient (it takes the end of the file for a closing quote, a line
// without ':' for a key, ignores tags and directives) and costly: a node of
// its tree takes about 500 bytes, its scanner holds every token of a flow
// collection that could still turn out to be a mapping key before it hands
// out a single event (1 MiB of '[' took 250 MB), and it shares an anchored
// node between its aliases, so whoever walks the tree pays for every alias
// use. The event pass here refuses all of that with file:line:col in time
// linear in the file, before any tree exists (common/text_check.hpp checks
// the raw text first).
// Expected load: a few job files and one configuration per scan, each at
// most a few MiB.
#pragma once

#include "common/diagnostic.hpp"
#include "common/text_check.hpp"

#include <cstddef>
#include <cstdint>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched {

struct YamlLimits {
    std::size_t max_bytes = 1 << 20;   // the file itself
    int max_depth = 32;                // nested mappings and sequences
    std::uint64_t max_nodes = 50'000;  // nodes after alias expansion: ~500 bytes each
    // Text of the scalars after alias expansion: what a walk of the tree copies.
    std::uint64_t max_expanded_bytes = 4u << 20;
    // Tokens yaml-cpp may scan ahead of the last event it delivered (each
    // held in memory until then); bounds its memory whatever the input.
    std::uint64_t max_lookahead_tokens = 32'768;
};

// Runs yaml-cpp's event parser over `text` (one document) and refuses it at
// the first cap crossed or syntax error. A tree built from a text that
// passed stays within the caps, and so does any walk of it.
bool check_yaml_events(std::string_view text,
                       const std::string& file,
                       const YamlLimits& limits,
                       Diagnostics& diags);

// A read-only stream buffer over text that stays alive while it is read:
// yaml-cpp reads through std::istream, and the text need not be copied.
class TextBuf : public std::streambuf {
  public:
    explicit TextBuf(std::string_view text);
};

}  // namespace lrsched
