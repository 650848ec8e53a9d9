// The operator's commands end to end (SPEC §6, issue 13): the real `lrsched`
// CLI talking to the real daemon over its control socket, the daemon
// sweeping lrsched-sim. status and sessions come from the daemon while it
// runs (its live figures are in the answer) and from the store when it is
// down (saying so); pause holds queued sessions, resume releases them, run
// starts a run now and refuses a second while one is unfinished, cancel
// ends waiting sessions at once and cancels the actions on the server,
// which are followed to their end; unknown jobs and states are the user's
// errors (exit 1), a daemon that does not answer is exit 2.
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

using lrsched::test::DaemonE2e;
using lrsched::test::ProcessResult;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;

namespace {

ProcessResult cli(DaemonE2e& e2e, std::vector<std::string> args) {
    std::vector<std::string> argv{LRSCHED_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", (e2e.dir() / "lrsched.yaml").string()});
    return run_process(argv);
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::int64_t count(DaemonE2e& e2e, const std::string& where) {
    return e2e.query("SELECT count(*) FROM sessions WHERE " + where).value_or(-1);
}

// A fleet whose sweep lasts: a slow submit rate, offline machines that stay
// pending on the server for a while, so that commands meet sessions in
// every state.
SweepSpec slow_fleet() {
    SweepSpec spec;
    spec.machines = 40;
    spec.submit_calls = 2;
    spec.submit_window = "1s";
    spec.concurrent_sessions = 6;
    spec.offline_slots = 3;
    spec.offline_fraction = "0.3";
    spec.online_after_max = "60s";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.queue_expiry = "60s";
    return spec;
}

}  // namespace

TEST_CASE("control e2e: status, pause, resume, cancel and run through the daemon's socket") {
    DaemonE2e e2e(slow_fleet());
    e2e.start_daemon();
    e2e.wait_until("the control socket and a few submits", [&] {
        return std::filesystem::exists(e2e.control_socket()) && e2e.created_actions().size() >= 3;
    });

    // status from the daemon: its live figures are in the document.
    const auto status = cli(e2e, {"status", "--json"});
    INFO(status.out << status.err);
    REQUIRE(status.exit_code == 0);
    CHECK_FALSE(has(status.err, "read from the store"));
    const auto doc = nlohmann::json::parse(status.out);
    CHECK(doc.contains("daemon"));
    // SPEC §6's fields: per job its latest run with every state's count
    // (zeros included), paused and the last error; per tenant the calls in
    // the last minute, running and pending, and why it is paused.
    const auto& job = doc["jobs"]["sweep"];
    CHECK(job["paused"] == false);
    CHECK(job.contains("last_error"));
    for (const char* state :
         {"queued", "busy", "submitting", "pending", "running", "collecting", "done", "failed",
          "expired", "not_found", "rejected", "cancelled", "withdrawn", "gave_up"})
        CHECK_MESSAGE(job["latest_run"]["sessions"].contains(state), state);
    const auto& tenant = doc["tenants"]["sim"];
    for (const char* field : {"calls_last_minute", "running", "pending", "paused", "paused_reason"})
        CHECK_MESSAGE(tenant.contains(field), field);

    // pause: once nothing is in flight, sessions are still queued (the
    // daemon, with every slot free, would have submitted them).
    const auto pause = cli(e2e, {"pause", "sweep"});
    INFO(pause.out << pause.err);
    CHECK(pause.exit_code == 0);
    CHECK(has(pause.out, "paused"));
    CHECK(e2e.query("SELECT paused FROM jobs WHERE name = 'sweep'") == 1);
    const std::size_t at_pause = e2e.created_actions().size();
    e2e.wait_until("nothing of the paused job in submitting or running", [&] {
        return count(e2e, "state IN ('submitting','running','collecting')") == 0;
    });
    // Within one call: the submit in flight when the pause came, if any.
    CHECK(e2e.created_actions().size() <= at_pause + 1);
    const std::int64_t held = count(e2e, "state = 'queued'");
    CHECK(held > 0);
    const auto text = cli(e2e, {"status"});
    CHECK(text.exit_code == 0);
    CHECK(has(text.out, "paused: yes"));

    // resume: the queued sessions go out again.
    const std::size_t created_before = e2e.created_actions().size();
    const auto resume = cli(e2e, {"resume", "sweep"});
    INFO(resume.out << resume.err);
    CHECK(resume.exit_code == 0);
    e2e.wait_until("submits after resume",
                   [&] { return e2e.created_actions().size() > created_before; });

    // cancel: waiting sessions end at once (committed before the answer),
    // actions pending on offline machines are cancelled on the server and
    // followed until the server says so.
    e2e.wait_until("a session pending on an offline machine",
                   [&] { return count(e2e, "state = 'pending'") > 0; });
    const auto cancel = cli(e2e, {"cancel", "sweep"});
    INFO(cancel.out << cancel.err);
    CHECK(cancel.exit_code == 0);
    CHECK(has(cancel.out, "cancelled"));
    CHECK(count(e2e, "state IN ('queued','busy')") == 0);
    e2e.wait_for_sweep_end();
    CHECK(count(e2e, "state = 'cancelled' AND action_id IS NOT NULL") > 0);
    CHECK(count(e2e, "state = 'cancelled' AND action_id IS NULL") > 0);
    // Nothing was submitted twice.
    std::set<std::string> tags;
    for (const auto& a : e2e.created_actions())
        CHECK(tags.insert(a["tag"].get<std::string>()).second);

    // run: a new run now; a second one is refused while it is unfinished.
    const auto run = cli(e2e, {"run", "sweep"});
    INFO(run.out << run.err);
    CHECK(run.exit_code == 0);
    CHECK(has(run.out, "run 2 started"));
    const auto again = cli(e2e, {"run", "sweep"});
    CHECK(again.exit_code == 1);
    CHECK(has(again.err, "unfinished"));
    e2e.wait_until("run 2 has sessions", [&] {
        return e2e.query("SELECT count(*) FROM sessions WHERE run_id = 2").value_or(0) == 40;
    });
    CHECK(cli(e2e, {"cancel", "sweep"}).exit_code == 0);

    // The operator's errors: exit 1 with one line.
    const auto unknown = cli(e2e, {"pause", "nosuch"});
    CHECK(unknown.exit_code == 1);
    CHECK(has(unknown.err, "nosuch"));
    const auto bad_state = cli(e2e, {"sessions", "sweep", "--state", "bogus"});
    CHECK(bad_state.exit_code == 1);
    // reload: an edit of the job file is read at once (its hash stored).
    const auto before = e2e.query("SELECT length(source_sha256) FROM jobs WHERE name = 'sweep'");
    REQUIRE(before == 64);
    std::string sha_before;
    {
        lrsched::test::ReadOnlyDb db(e2e.db_path());
        sha_before = *db.rows("SELECT source_sha256 FROM jobs WHERE name = 'sweep'")[0][0];
    }
    {
        std::ofstream edit(e2e.dir() / "jobs" / "sweep.yaml", std::ios::app);
        edit << "# edited\n";
    }
    const auto reload = cli(e2e, {"reload"});
    INFO(reload.out << reload.err);
    CHECK(reload.exit_code == 0);
    e2e.wait_until("the edit read", [&] {
        lrsched::test::ReadOnlyDb db(e2e.db_path());
        return *db.rows("SELECT source_sha256 FROM jobs WHERE name = 'sweep'")[0][0] != sha_before;
    });

    // sessions from the daemon, then, with it stopped, from the store.
    const auto listed = cli(e2e, {"sessions", "sweep", "--json"});
    CHECK(listed.exit_code == 0);
    CHECK(nlohmann::json::parse(listed.out)["sessions"].size() == 40);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    CHECK_FALSE(std::filesystem::exists(e2e.control_socket()));
    const auto offline = cli(e2e, {"status"});
    CHECK(offline.exit_code == 0);
    CHECK(has(offline.err, "read from the store"));
    const auto unreachable = cli(e2e, {"pause", "sweep"});
    CHECK(unreachable.exit_code == 2);
    CHECK(has(unreachable.err, "daemon"));
}

TEST_CASE("control e2e: cancel --machine ends one machine's session and no other") {
    SweepSpec spec = slow_fleet();
    spec.submit_calls = 1;
    spec.submit_window = "2s";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("sessions queued", [&] { return count(e2e, "state = 'queued'") > 10; });
    const std::string machine = [&] {
        lrsched::test::ReadOnlyDb db(e2e.db_path());
        return *db.rows(
            "SELECT machine_id FROM sessions WHERE state = 'queued' "
            "ORDER BY id DESC LIMIT 1")[0][0];
    }();
    const auto cancel = cli(e2e, {"cancel", "sweep", "--machine", machine});
    INFO(cancel.out << cancel.err);
    CHECK(cancel.exit_code == 0);
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE state = 'cancelled'") == 1);
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE state = 'cancelled' AND machine_id = '" +
                    machine + "'") == 1);
    const auto again = cli(e2e, {"cancel", "sweep", "--machine", machine});
    CHECK(again.exit_code == 1);  // nothing of that machine waits any more
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("control e2e: another user is refused by the socket's mode, and by the peer check") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: running a client as another uid needs root (CI runs as root)");
        return;
    }
    SweepSpec spec;
    spec.machines = 5;
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the control socket",
                   [&] { return std::filesystem::exists(e2e.control_socket()); });
    using std::filesystem::perms;
    std::filesystem::permissions(e2e.dir(), perms::others_exec, std::filesystem::perm_options::add);
    // A raw HTTP client run as nobody (65534, no groups): the first line of
    // the answer, or the errno name when connect() fails.
    const std::string script =
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except OSError as e:\n"
        "    import errno; print(errno.errorcode[e.errno]); sys.exit(0)\n"
        // The daemon answers a refused peer without reading its request,
        // and closes: the send may meet a closed socket, the answer is
        // still there to read.
        "try:\n"
        "    s.sendall(b'GET /v1/status HTTP/1.1\\r\\nHost: lrsched\\r\\n\\r\\n')\n"
        "except OSError:\n"
        "    pass\n"
        "data=b''\n"
        "while True:\n"
        "    try:\n"
        "        b=s.recv(65536)\n"
        "    except OSError:\n"
        "        break\n"
        "    if not b: break\n"
        "    data+=b\n"
        "print(data.split(b'\\r\\n')[0].decode())\n";
    const auto as_nobody = [&] {
        return run_process({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "/usr/bin/python3", "-c", script, e2e.control_socket().string()});
    };
    const auto by_mode = as_nobody();
    INFO(by_mode.out << by_mode.err);
    CHECK(has(by_mode.out, "EACCES"));  // 0660, root's group: the kernel refuses
    // The test widens the socket (the daemon never would): now the daemon's
    // own check of the peer's credentials is what refuses.
    std::filesystem::permissions(e2e.control_socket(), perms::others_read | perms::others_write,
                                 std::filesystem::perm_options::add);
    const auto by_peer = as_nobody();
    INFO(by_peer.out << by_peer.err);
    CHECK(has(by_peer.out, "403"));
    CHECK(cli(e2e, {"status"}).exit_code == 0);  // root still is
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    CHECK(has(e2e.log(), "65534"));  // the refusal is logged with the peer's uid
}
