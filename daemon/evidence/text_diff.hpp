// `lrsched diff --show`: a unified diff of two text results (transcript
// outputs), printed on an operator's terminal. The texts come from the
// machines, so they are hostile: control bytes are shown escaped, and the
// work is bounded (a line cap, and Myers' search capped in D, past which the
// changed middle is shown as replaced whole).
//
// Expected load: one diff per changed result the operator asks to see; texts
// up to 100k lines, usually with few differences.
#pragma once

#include "common/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace lrsched::evidence {

// A unified diff (context lines, @@ -a,n +b,m @@ hunks, ---/+++ labels) of
// two texts split at '\n'; "" when equal. Refused (Error limit_exceeded) past
// max_lines on either side. Control bytes other than tab inside lines (and
// C1 controls in UTF-8) are shown escaped (\x1b), so a hostile file cannot
// drive the terminal; a last line without '\n' is marked as diff(1) does.
Result<std::string> unified_diff(std::string_view a,
                                 std::string_view b,
                                 std::string_view label_a,
                                 std::string_view label_b,
                                 std::size_t context = 3,
                                 std::size_t max_lines = 100'000);

}  // namespace lrsched::evidence
