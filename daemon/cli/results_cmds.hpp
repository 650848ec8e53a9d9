// `lrsched results JOB`, `lrsched diff JOB [RUN_A [RUN_B]]`, `lrsched stack
// JOB` (SPEC §6): reading a job's evidence as one table, what changed since
// the last run, and results stacked across machines.
#pragma once

#include "cli/args.hpp"

namespace lrsched::cli {

int cmd_results(const Args& args);
int cmd_diff(const Args& args);
int cmd_stack(const Args& args);

}  // namespace lrsched::cli
