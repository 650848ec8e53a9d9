// `lrsched plan JOB`: what a run of JOB would do, without doing it.
#pragma once

#include <string>

namespace lrsched::cli {

// JOB is a job name in jobs_dir or a job file. Returns the exit status: 0
// after printing the plan, 1 when the configuration, the job, the secret,
// the store or the machine listing cannot be used.
int run_plan(const std::string& config_path, const std::string& job_ref);

}  // namespace lrsched::cli
