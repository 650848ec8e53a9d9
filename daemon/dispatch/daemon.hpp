// `lrsched daemon`: the long-running process (SPEC §6, §7). One thread, one
// io_context: per tenant a dispatch loop and a tracking loop, plus one loop
// for job files, firings and target resolution, all sleeping on timers that
// events cancel. SIGTERM stops dispatching and exits within 5 s with every
// state change already committed; SIGHUP re-reads the job files at once.
#pragma once

#include <string>

namespace lrsched::dispatch {

// Runs the daemon with the configuration at `config_path` until SIGTERM or
// SIGINT. Returns the process exit status: 0 after a clean stop, 1 when the
// configuration, a secret or the store cannot be used.
int run_daemon(const std::string& config_path);

// `lrsched plan JOB`: resolves the job's targets through the machines API
// (within the read budget the daemon shares through the store) and prints
// the count, how many look offline, and the run's estimated duration from
// the tenant's limits. JOB is a job name in jobs_dir or a job file.
int run_plan(const std::string& config_path, const std::string& job_ref);

}  // namespace lrsched::dispatch
