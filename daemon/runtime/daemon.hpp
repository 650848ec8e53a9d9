// `lrsched daemon`: the long-running process (SPEC §6, §7). One thread, one
// io_context: per tenant dispatch, tracking and collection loops, plus one loop
// for job files, firings and target resolution, all sleeping on timers that
// events cancel. SIGTERM stops dispatching and exits within 5 s with every
// state change already committed; SIGHUP re-reads the job files at once.
//
// Folder runtime/: the daemon process (start-up, two-phase shutdown, loops
// and flows); includes every folder but cli/.
#pragma once

#include <string>

namespace lrsched::runtime {

// Runs the daemon with the configuration at `config_path` until SIGTERM or
// SIGINT. Returns the process exit status: 0 after a clean stop, 1 when the
// configuration, a secret or the store cannot be used.
int run_daemon(const std::string& config_path);

}  // namespace lrsched::runtime
