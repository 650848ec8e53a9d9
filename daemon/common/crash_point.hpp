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

// Named failure points for the tests of "a failure while handling one job
// stays with that job": with LRSCHED_FAIL_AT=<point>/<subject> in the
// environment, fail_point(point, subject) throws std::runtime_error every
// time it is reached with that subject (a job's name). Unset, it costs one
// comparison.
void fail_point(std::string_view point, std::string_view subject);

}  // namespace lrsched
