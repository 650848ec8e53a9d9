// `lrsched plan JOB` end to end (SPEC §6): the real binary against
// lrsched-sim resolves the job's targets through the machines API, prints
// the estimate from the tenant's limits, and says what the run would find
// in the live response library, counting what library_dir would upload.
// It changes nothing: no action is created, no file uploaded.
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::test::DaemonE2e;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;

namespace {

lrsched::test::ProcessResult plan(DaemonE2e& e2e) {
    return run_process(
        {LRSCHED_BINARY, "plan", "sweep", "-c", (e2e.dir() / "lrsched.yaml").string()});
}

int calls(DaemonE2e& e2e, const std::string& endpoint) {
    int n = 0;
    const auto stats = e2e.stats();
    if (stats["calls"].contains(endpoint))
        for (const auto& [status, count] : stats["calls"][endpoint].items())
            n += count.get<int>();
    return n;
}

bool has(const std::string& out, const std::string& line) {
    return out.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("plan e2e: targets, offline share and estimate, and a library that lacks a script") {
    SweepSpec spec;
    spec.machines = 30;
    spec.never_online_fraction = "0";
    spec.offline_fraction = "0";
    spec.commands = "  - RunScript: collect.ps1\n  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
    DaemonE2e e2e(spec);  // the simulator's default library has no collect.ps1
    const auto out = plan(e2e);
    INFO(out.out << out.err);
    CHECK(out.exit_code == 0);
    CHECK(has(out.out, "job sweep (tenant sim): 30 machine(s) of 30 in the fleet; 0 look offline"));
    CHECK(has(out.out, "estimate: "));
    CHECK(has(out.out,
              "library: the live response library of tenant sim lacks collect.ps1 "
              "(RunScript); the job would be paused until they are there"));
    CHECK(calls(e2e, "runliveresponse") == 0);
}

TEST_CASE("plan e2e: what library_dir would upload counts as there, and nothing is uploaded") {
    SweepSpec spec;
    spec.machines = 5;
    spec.commands = "  - RunScript: collect.ps1\n";
    spec.library_files = {{"collect.ps1", "Write-Output 'collected'\n"}};
    DaemonE2e e2e(spec);
    const auto out = plan(e2e);
    INFO(out.out << out.err);
    CHECK(out.exit_code == 0);
    CHECK(has(out.out,
              "library: collect.ps1 from library_dir would be uploaded at the run's "
              "start"));
    CHECK(has(out.out, "library: every PutFile and RunScript file is there"));
    CHECK(calls(e2e, "libraryfiles_upload") == 0);
    CHECK(calls(e2e, "libraryfiles_list") == 1);
}
