// The job file's `on_finish` and `evidence` keys (SPEC §2), read into a Job.
// Kept apart from job_parser.cpp, which calls them, to keep that file small.
// Pure; expected load: once per job file load.
#pragma once

#include "common/diagnostic.hpp"
#include "jobs/job.hpp"

#include <yaml-cpp/yaml.h>

#include <string>

namespace lrsched::jobs {

// Caps on `on_finish.command`: an argv is a handful of words; a longer one is
// a mistake, and every argument ends up in the audit log.
inline constexpr std::size_t kMaxHookArgs = 64;
inline constexpr std::size_t kMaxHookArgBytes = 4096;

// Each reports every problem with file:line:col into `diags` and fills the
// job's field only when the key is entirely valid.
void parse_on_finish(const std::string& file, const YAML::Node& n, Job& job, Diagnostics& diags);
void parse_evidence(const std::string& file, const YAML::Node& n, Job& job, Diagnostics& diags);

}  // namespace lrsched::jobs
