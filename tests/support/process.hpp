// Runs a program to completion and captures its exit status, stdout and
// stderr: end-to-end tests drive the real `lrsched` binary this way.
#pragma once

#include <string>
#include <vector>

namespace lrsched::test {

struct ProcessResult {
    int exit_code = -1;  // -1 when killed by a signal
    std::string out;
    std::string err;
};

// argv[0] is the program path. `env` entries ("K=V") are added to the
// environment of the child. No shell is involved.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env = {});

}  // namespace lrsched::test
