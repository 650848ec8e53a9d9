// Named crash points for crash-consistency tests (issue 5: "crash points
// inside the download path leave a consistent folder after restart").
// When the environment holds LRSCHED_CRASH_AT=<point>[:<n>], the process
// sends itself SIGKILL the n-th time (default: the first) it reaches
// <point>, and stops there as an OOM kill or a power cut would stop it: no
// destructor, no flush. The end-to-end tests start the real daemon so; in
// normal operation the variable is unset and a crash point costs one
// comparison.
#pragma once

#include <string_view>

namespace lrsched {

void crash_point(std::string_view point);

}  // namespace lrsched
