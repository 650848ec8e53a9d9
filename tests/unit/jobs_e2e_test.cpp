// The daemon's jobs loop and its tenants' loops against hostile files and
// an operator's intent (issue 10, A1-A4, B9 and C15), through the real
// `lrsched daemon` and lrsched-sim: a bad job file dropped mid-sweep, a
// failure inside one job, a job deleted while the daemon was down, a pause
// across a restart, a firing cut by a crash, a session followed across a
// restart long after its submit, and a tenant whose API cannot be reached.
// Waits are bounded loops on an observable; nothing asserts on time.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <regex>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using lrsched::test::BackgroundProcess;
using lrsched::test::DaemonE2e;
using lrsched::test::kFinalStatesSql;
using lrsched::test::ReadOnlyDb;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string config_path(DaemonE2e& e2e) {
    return (e2e.dir() / "lrsched.yaml").string();
}

void write_job(DaemonE2e& e2e, const std::string& name, const std::string& text) {
    std::ofstream out(e2e.dir() / "jobs" / (name + ".yaml"), std::ios::binary);
    out << text;
}

json status(DaemonE2e& e2e) {
    const auto r = run_process({LRSCHED_BINARY, "status", "--json", "-c", config_path(e2e)});
    INFO("status: " << r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
}

std::size_t count_lines(const std::string& log, const std::string& needle) {
    std::istringstream in(log);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
        n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
}

std::int64_t scalar(DaemonE2e& e2e, const std::string& sql) {
    return e2e.query(sql).value_or(-1);
}

// A sweep slow enough to stop in its middle: two submits a second.
SweepSpec slow_sweep() {
    SweepSpec spec;
    spec.machines = 40;
    spec.submit_calls = 2;
    spec.submit_window = "1s";
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    return spec;
}

std::string one_shot_job(const std::string& extra = "") {
    return "targets:\n  tags: [tier0, server, workstation]\ncommands:\n"
           "  - GetFile: 'C:\\Windows\\Temp\\x.log'\n" +
           extra;
}

}  // namespace

TEST_CASE(
    "jobs e2e: a job file in Latin-1 dropped mid-sweep is refused, shown, and the sweep ends") {
    DaemonE2e e2e(slow_sweep());
    e2e.start_daemon();
    e2e.wait_until("a few submits", [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM sessions "
                      "WHERE submissions > 0") >= 4;
    });
    // "café" as ISO-8859-1: 0xE9 is not UTF-8.
    write_job(e2e, "latin1", one_shot_job("comment: caf\xe9\n"));
    e2e.wait_for_sweep_end();  // fails if the daemon exits

    const json s = status(e2e);
    INFO(s.dump(2));
    REQUIRE(s["jobs"].contains("latin1"));
    const json& bad = s["jobs"]["latin1"];
    REQUIRE(bad["last_error"].is_string());
    const std::string error = bad["last_error"];
    CHECK(std::regex_search(error, std::regex("latin1\\.yaml:[0-9]+:[0-9]+: ")));
    CHECK(error.find("UTF-8") != std::string::npos);
    CHECK(bad["latest_run"].is_null());
    CHECK(s["jobs"]["sweep"]["latest_run"]["sessions"]["done"] == e2e.spec().machines);
    // Logged once, though the file stays there through many scans.
    CHECK(count_lines(e2e.log(), "job=latin1 refused") == 1);
    const auto validate = run_process({LRSCHED_BINARY, "validate", "-c", config_path(e2e)});
    CHECK(validate.exit_code == 1);
    CHECK(validate.err.find("latin1.yaml:") != std::string::npos);
}

TEST_CASE("jobs e2e: a failure while handling one job stays with that job, the others run") {
    SweepSpec spec = slow_sweep();
    spec.submit_calls = 10;
    DaemonE2e e2e(spec);
    write_job(e2e, "broken", one_shot_job());
    e2e.start_daemon({"LRSCHED_FAIL_AT=jobs.fire/broken"});
    e2e.wait_until("the sweep's run to finish", [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
                      "WHERE j.name = 'sweep' AND r.finished_at IS NOT NULL") == 1;
    });
    const json s = status(e2e);
    INFO(s.dump(2));
    const json& broken = s["jobs"]["broken"];
    REQUIRE(broken["last_error"].is_string());
    CHECK(broken["last_error"].get<std::string>().find("injected failure at jobs.fire") !=
          std::string::npos);
    CHECK(broken["latest_run"].is_null());
    CHECK(count_lines(e2e.log(), "job=broken internal error") == 1);
    CHECK(count_lines(e2e.log(), "critical") == 0);
}

TEST_CASE(
    "jobs e2e: a job deleted while the daemon was down stays deleted, its queued sessions "
    "are withdrawn and those on the server collected") {
    DaemonE2e e2e(slow_sweep());
    e2e.start_daemon();
    e2e.wait_until("some sessions on the server", [&] {
        return scalar(e2e, "SELECT count(*) FROM sessions WHERE action_id IS NOT NULL") >= 4;
    });
    REQUIRE(e2e.stop_daemon(SIGTERM) == 0);
    const std::size_t before = e2e.created_actions().size();
    fs::remove(e2e.dir() / "jobs" / "sweep.yaml");

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.created_actions().size() == before);
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM jobs WHERE name = 'sweep' AND deleted_at IS NOT NULL") ==
          1);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'withdrawn'") > 0);
    CHECK(db.scalar(std::string("SELECT count(*) FROM sessions WHERE state NOT IN ") +
                    kFinalStatesSql) == 0);
    // Every session that reached the server was followed to its end.
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE action_id IS NOT NULL AND state <> "
                    "'done'") == 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE action_id IS NOT NULL") ==
          static_cast<std::int64_t>(before));
}

TEST_CASE("jobs e2e: a run not yet resolved when its job file was deleted ends without sessions") {
    DaemonE2e e2e(slow_sweep());
    // Killed right after the one-shot's run is committed, before it resolves.
    e2e.start_daemon({"LRSCHED_CRASH_AT=jobs.after_firing"});
    CHECK(e2e.wait_for_daemon_exit() == -SIGKILL);
    REQUIRE(scalar(e2e, "SELECT count(*) FROM runs WHERE resolved_at IS NULL") == 1);
    fs::remove(e2e.dir() / "jobs" / "sweep.yaml");

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.created_actions().empty());
    CHECK(scalar(e2e, "SELECT count(*) FROM sessions") == 0);
    CHECK(count_lines(e2e.log(), "state=withdrawn: the job file was deleted") == 1);
}

TEST_CASE(
    "jobs e2e: a job paused after repeated rejections stays paused across a restart until "
    "its file changes") {
    SweepSpec spec = slow_sweep();
    spec.commands = "  - RunScript: collect.ps1\n";
    spec.sim_flags = {"--library", "collect.ps1"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("a first action", [&] { return !e2e.created_actions().empty(); });
    // The script leaves the library after the run's check: every later
    // submit is refused with the same message, and the job pauses.
    REQUIRE(e2e.sim_api("DELETE", "/api/libraryfiles/collect.ps1").status / 100 == 2);
    e2e.wait_until("the job paused", [&] {
        return scalar(e2e, "SELECT paused FROM jobs WHERE name = 'sweep'") == 1;
    });
    REQUIRE(e2e.stop_daemon(SIGTERM) == 0);
    const std::int64_t rejected = scalar(e2e,
                                         "SELECT count(*) FROM sessions WHERE state = "
                                         "'rejected'");
    const std::int64_t queued = scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'queued'");
    REQUIRE(queued > 0);

    // Another job, at a lower priority, goes through the same dispatch
    // loop after the restart: once it is done, the paused one had every
    // chance to be submitted.
    write_job(e2e, "probe",
              "targets:\n  tags: [tier0, server, workstation]\ncommands:\n"
              "  - GetFile: 'C:\\Windows\\Temp\\p.log'\npriority: 10\n");
    e2e.start_daemon();
    e2e.wait_until("the probe job's run to finish", [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
                      "WHERE j.name = 'probe' AND r.finished_at IS NOT NULL") == 1;
    });
    CHECK(scalar(e2e, "SELECT paused FROM jobs WHERE name = 'sweep'") == 1);
    CHECK(scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'rejected'") == rejected);
    CHECK(scalar(e2e,
                 "SELECT count(*) FROM sessions s JOIN runs r ON r.id = s.run_id JOIN jobs "
                 "j ON j.id = r.job_id WHERE j.name = 'sweep' AND s.state = 'queued'") == queued);

    // An edit of the file is the operator's answer: the job resumes.
    const auto path = e2e.dir() / "jobs" / "sweep.yaml";
    std::ofstream(path, std::ios::app) << "# edited\n";
    e2e.wait_until("the job resumed", [&] {
        return scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'rejected'") > rejected;
    });
}

TEST_CASE("jobs e2e: a cron firing cut by a crash runs its instant once") {
    DaemonE2e e2e(slow_sweep());
    fs::remove(e2e.dir() / "jobs" / "sweep.yaml");
    // A one-shot job fires first (the first crash point reached), then the
    // minutely job at the next minute: the daemon dies right after that
    // firing's commit.
    write_job(e2e, "a-first", one_shot_job());
    write_job(e2e, "minutely",
              one_shot_job("schedule: {cron: '* * * * *', catch_up: true, overlap: queue}\n"));
    e2e.start_daemon({"LRSCHED_CRASH_AT=jobs.after_firing:2"});
    CHECK(e2e.wait_for_daemon_exit(std::chrono::seconds(150)) == -SIGKILL);
    const std::int64_t instant =
        scalar(e2e,
               "SELECT r.scheduled_for FROM runs r JOIN jobs j ON j.id = r.job_id "
               "WHERE j.name = 'minutely'");
    const auto runs_for_instant = [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
                      "WHERE j.name = 'minutely' AND r.scheduled_for = " +
                          std::to_string(instant));
    };
    REQUIRE(runs_for_instant() == 1);

    e2e.start_daemon();
    // A job loaded after the restart fires in a pass that comes after the
    // start-up's catch-up decision for the minutely job.
    write_job(e2e, "probe", one_shot_job());
    e2e.wait_until("the probe job's run", [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
                      "WHERE j.name = 'probe'") == 1;
    });
    CHECK(runs_for_instant() == 1);
    CHECK(scalar(e2e, "SELECT last_fired_at FROM jobs WHERE name = 'minutely'") >= instant);
}

TEST_CASE(
    "jobs e2e: a session followed across a restart long after its submit is collected, "
    "not failed by a backstop") {
    SweepSpec spec;
    spec.machines = 6;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.commands = "  - RunScript: slow.ps1\n  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
    // Every action waits 1.5 s in Pending before it runs for 6 s.
    spec.sim_flags = {"--library", "slow.ps1",       "--runscript-duration",
                      "6s",        "--pickup-delay", "1500ms"};
    spec.tenant_extra = "    clock_skew: 200ms\n";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    // Every session on the server entered running a second or more after
    // its submission (none still waits in pending): a listing that starts
    // at the state changes (less the margin) misses every action.
    e2e.wait_until("no session queued or pending, some running", [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM sessions WHERE state IN ('queued', "
                      "'submitting', 'pending')") == 0 &&
               scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'running'") > 0;
    });
    CHECK(scalar(e2e,
                 "SELECT min(updated_at - submitted_at) FROM sessions WHERE state = "
                 "'running'") > 1'000);
    REQUIRE(e2e.stop_daemon(SIGTERM) == 0);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    ReadOnlyDb db(e2e.db_path());
    INFO(e2e.log_tail(40));
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") == spec.machines);
    CHECK(db.scalar("SELECT count(*) FROM artifacts") == 2 * spec.machines);
    const json stats = e2e.stats();
    CHECK(stats["calls"].value("cancel", json::object()).empty());
}

TEST_CASE(
    "jobs e2e: a tenant whose API refuses connections backs off, shows why in status, and "
    "logs the outage twice: when it starts and when it ends") {
    SweepSpec spec;
    spec.machines = 10;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    DaemonE2e e2e(spec);
    // A port where nothing listens yet.
    int port = 0;
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        ::close(fd);
    }
    const std::string live = e2e.ready()["base"];
    const std::string dead = "https://127.0.0.1:" + std::to_string(port);
    std::string config;
    {
        std::ifstream in(config_path(e2e));
        std::stringstream text;
        text << in.rdbuf();
        config = std::regex_replace(text.str(), std::regex(live), dead);
        config = std::regex_replace(config, std::regex("level: info"), "level: debug");
    }
    std::ofstream(config_path(e2e)) << config;

    e2e.start_daemon();
    e2e.wait_until("status to show the tenant's connection error", [&] {
        const auto r = run_process({LRSCHED_BINARY, "status", "--json", "-c", config_path(e2e)});
        return r.exit_code == 0 && json::parse(r.out)["tenants"]["sim"]["last_error"].is_string();
    });
    e2e.wait_until("several retries",
                   [&] { return count_lines(e2e.log(), "tenant=sim still unreachable") >= 4; });
    const json s = status(e2e);
    INFO(s.dump(2));
    CHECK(s["tenants"]["sim"]["last_error_since"].is_string());
    CHECK(s["tenants"]["sim"]["paused"] == false);
    CHECK(count_lines(e2e.log(), "tenant=sim the API cannot be reached") == 1);

    // The API comes up on that port (the same certificate): the sweep runs.
    const std::string sim_dir = (e2e.dir() / "sim").string();
    const std::string tenant = e2e.ready()["tenant"];
    BackgroundProcess second({LRSCHED_SIM_BINARY,
                              "--machines",
                              std::to_string(spec.machines),
                              "--seed",
                              "7",
                              "--port",
                              std::to_string(port),
                              "--tenant",
                              tenant,
                              "--client-id",
                              "11111111-1111-1111-1111-111111111111",
                              "--client-secret",
                              "s3cret",
                              "--cert",
                              sim_dir + "/server.pem",
                              "--key",
                              sim_dir + "/server.key",
                              "--ca",
                              sim_dir + "/ca.pem",
                              "--offline-fraction",
                              "0",
                              "--never-online-fraction",
                              "0",
                              "--busy-fraction",
                              "0",
                              "--submit-calls",
                              "10",
                              "--submit-window",
                              "1s",
                              "--concurrent-sessions",
                              "8",
                              "--read-calls",
                              "100",
                              "--read-window",
                              "3s",
                              "--getfile-duration",
                              "500ms"},
                             (e2e.dir() / "sim-second.log").string());
    e2e.wait_for_sweep_end();
    CHECK(count_lines(e2e.log(), "tenant=sim the API answers again") == 1);
    CHECK(count_lines(e2e.log(), "tenant=sim the API cannot be reached") == 1);
    CHECK(status(e2e)["tenants"]["sim"]["last_error"].is_null());
    CHECK(scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'done'") == spec.machines);
}

TEST_CASE("jobs e2e: a run that cannot be closed stays with its job, the others close") {
    SweepSpec spec = slow_sweep();
    spec.submit_calls = 10;
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the sweep to start", [&] {
        return scalar(e2e, "SELECT count(*) FROM sessions WHERE submissions > 0") >= 1;
    });
    // A job whose tag no machine has: its run ends at once, without
    // sessions, and its run folder cannot be made (a file stands where the
    // job's evidence folder goes).
    const auto evidence = e2e.dir() / "state" / "evidence";
    std::filesystem::create_directories(evidence);
    std::ofstream(evidence / "empty") << "in the way\n";
    write_job(e2e, "empty",
              "targets:\n  tags: [no-such-tag]\ncommands:\n  - GetFile: 'C:\\x.log'\n");
    e2e.wait_until("the empty job's close to fail", [&] {
        const json s = status(e2e);
        return s["jobs"].contains("empty") && s["jobs"]["empty"]["last_error"].is_string();
    });
    e2e.wait_until("the sweep's run to close", [&] {
        return scalar(e2e,
                      "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
                      "WHERE j.name = 'sweep' AND r.closed_at IS NOT NULL") == 1;
    });
    const json s = status(e2e);
    INFO(s.dump(2));
    const json& empty = s["jobs"]["empty"];
    CHECK(empty["last_error"].get<std::string>().find("cannot create the run folder") !=
          std::string::npos);
    CHECK(empty["latest_run"]["finished_at"].is_string());
    CHECK(empty["latest_run"]["digest"].is_null());  // not closed
    CHECK(s["jobs"]["sweep"]["latest_run"]["digest"].is_string());
    CHECK(count_lines(e2e.log(),
                      "job=empty internal error while handling the job: closing the run") ==
          1);  // logged once
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}
