// `lrsched status` and `lrsched sessions`: the daemon's answer over the
// control socket when it runs, else a report read straight from its SQLite
// store (store/report.hpp). One report per invocation.
#pragma once

#include "cli/args.hpp"

namespace lrsched::cli {

// Each returns the process exit status of SPEC §6: 0 ok; 1 a user error (a
// bad configuration, an unknown job, an unknown --state); 2 when the daemon
// is there but cannot be asked or fails, or, with no daemon, when the store
// cannot be read (no database yet, unreachable, newer schema).
int cmd_status(const Args& args);
int cmd_sessions(const Args& args);

}  // namespace lrsched::cli
