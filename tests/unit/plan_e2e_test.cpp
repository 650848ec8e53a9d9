// `lrsched plan JOB` end to end (SPEC §6): the real binary against
// lrsched-sim resolves the job's targets through the machines API, prints
// the estimate from the tenant's limits, and says what the run would find
// in the live response library, counting what library_dir would upload.
// It changes nothing: no action is created, no file uploaded. The estimate's
// session time is measured (issue 11): the job's last runs, else the
// tenant's recent sessions, else the documented 2 minutes, and it says which.
#include "dispatch/estimate.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

using lrsched::test::DaemonE2e;
using lrsched::test::ReadOnlyDb;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;

namespace {

lrsched::test::ProcessResult plan(DaemonE2e& e2e, const std::string& job = "sweep") {
    return run_process({LRSCHED_BINARY, "plan", job, "-c", (e2e.dir() / "lrsched.yaml").string()});
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

TEST_CASE("plan e2e: the estimate's session time is measured, and it says where it comes from") {
    SweepSpec spec;
    spec.machines = 12;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    DaemonE2e e2e(spec);

    auto out = plan(e2e);
    INFO(out.out << out.err);
    REQUIRE(out.exit_code == 0);
    CHECK(has(out.out, "estimate: "));
    CHECK(has(out.out, "no measurements yet: 2m per session assumed"));

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    // What the daemon measured: each session from its submission to its
    // last event, read from its database.
    std::vector<std::int64_t> times;
    {
        ReadOnlyDb db(e2e.db_path());
        for (const auto& row :
             db.rows("SELECT (SELECT max(at) FROM session_events e WHERE e.session_id = s.id) - "
                     "s.submitted_at FROM sessions s WHERE s.state = 'done'"))
            times.push_back(std::stoll(row.at(0).value()));
    }
    REQUIRE(times.size() == 12);
    const std::string figure =
        "median " + lrsched::dispatch::approx_duration(lrsched::dispatch::median(times)) +
        " per session";

    out = plan(e2e);
    INFO(out.out << out.err);
    REQUIRE(out.exit_code == 0);
    CHECK(has(out.out, "from this job's last run: " + figure));

    // A job of the same tenant that never ran: the tenant's recent sessions.
    std::ifstream sweep(e2e.dir() / "jobs" / "sweep.yaml");
    std::ofstream(e2e.dir() / "jobs" / "other.yaml") << sweep.rdbuf();
    out = plan(e2e, "other");
    INFO(out.out << out.err);
    REQUIRE(out.exit_code == 0);
    CHECK(has(out.out, "from the tenant's last 12 sessions: " + figure));
    CHECK(calls(e2e, "runliveresponse") == 12);  // plan submitted nothing
}
