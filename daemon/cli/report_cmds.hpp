// `lrsched status` and `lrsched sessions`: reports read straight from the
// daemon's SQLite store (store/report.hpp) until the control socket serves
// them. One report per invocation.
#pragma once

#include "cli/args.hpp"

namespace lrsched::cli {

// Each returns the process exit status of SPEC §6: 0 ok; 1 a user error (a
// bad configuration, an unknown job, an unknown --state); 2 when the store
// cannot be read (no database yet, unreachable, newer schema).
int cmd_status(const Args& args);
int cmd_sessions(const Args& args);

}  // namespace lrsched::cli
