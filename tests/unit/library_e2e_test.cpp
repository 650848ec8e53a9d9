// The live response library end to end (issue 5): the real daemon against
// lrsched-sim. A run whose script the tenant's library lacks is queued but
// paused, never submitted, and resumes once the script is there (found by
// the periodic re-check, or at once when the job file is edited);
// library_dir's files are uploaded when missing or different, and only
// then. The simulator's stats and library listing are the oracle; the
// daemon's database (read-only) and log say what it believed.
#include "api/library.hpp"
#include "common/sha256.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <string>

using lrsched::sha256_hex;
using lrsched::test::DaemonE2e;
using lrsched::test::kFinalStatesSql;
using lrsched::test::ReadOnlyDb;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;
using nlohmann::json;

namespace {

const std::string kReason = "the live response library of tenant sim lacks collect.ps1 (RunScript)";

// A sweep the simulator's library cannot serve: its default library has no
// collect.ps1.
SweepSpec missing_script_sweep() {
    SweepSpec spec;
    spec.machines = 12;
    spec.never_online_fraction = "0";
    spec.commands =
        "  - RunScript: collect.ps1\n"
        "  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
    return spec;
}

// How many calls the simulator answered on `endpoint` (any status, or one).
int calls(const json& stats, const std::string& endpoint, const std::string& status = "") {
    if (!stats["calls"].contains(endpoint)) return 0;
    const json& by_status = stats["calls"][endpoint];
    if (!status.empty()) return by_status.value(status, 0);
    int n = 0;
    for (const auto& [code, count] : by_status.items())
        n += count.get<int>();
    return n;
}

std::int64_t scalar(DaemonE2e& e2e, const std::string& sql) {
    return e2e.query(sql).value_or(-1);
}

bool job_paused(DaemonE2e& e2e, const std::string& job = "sweep") {
    return scalar(e2e, "SELECT paused FROM jobs WHERE name = '" + job + "'") == 1;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
        ++n;
    return n;
}

// Uploads a file through the simulator's API, as an operator's tool would.
void upload_to_sim(DaemonE2e& e2e, const std::string& name, const std::string& content) {
    const std::string b = "e2e-boundary-7c1d";
    const std::string body = "--" + b +
                             "\r\nContent-Disposition: form-data; name=\"File\"; filename=\"" +
                             name + "\"\r\n\r\n" + content + "\r\n--" + b +
                             "\r\nContent-Disposition: form-data; name=\"OverrideIfExists\""
                             "\r\n\r\ntrue\r\n--" +
                             b + "--\r\n";
    const auto r =
        e2e.sim_api("POST", "/api/libraryfiles", body, "multipart/form-data; boundary=" + b);
    INFO(r.body);
    REQUIRE(r.status == 200);
}

// The simulator's library, by file name.
std::map<std::string, json> sim_library(DaemonE2e& e2e) {
    const auto r = e2e.sim_api("GET", "/api/libraryfiles");
    REQUIRE(r.status == 200);
    const json listing = json::parse(r.body);
    std::map<std::string, json> out;
    for (const auto& f : listing["value"])
        out[f["fileName"].get<std::string>()] = f;
    return out;
}

void rewrite_job(DaemonE2e& e2e, const std::string& job, const std::string& commands) {
    std::ofstream out(e2e.dir() / "jobs" / (job + ".yaml"), std::ios::trunc);
    out << "description: " << job << " (rewritten)\n"
        << "targets:\n  tags: [tier0, server, workstation]\n"
        << "commands:\n"
        << commands << "comment: e2e " << job << "\nretry: {busy_every: 1s}\n";
    REQUIRE(out.good());
}

void check_every_session_done_or_expected(DaemonE2e& e2e) {
    ReadOnlyDb db(e2e.db_path());
    INFO("the daemon's last lines:\n" << e2e.log_tail());
    CHECK(db.scalar(std::string("SELECT count(*) FROM sessions WHERE state NOT IN ") +
                    kFinalStatesSql) == 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'rejected'") == 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") > 0);
}

}  // namespace

TEST_CASE(
    "library e2e: a run whose script the library lacks is queued but paused, never submitted, "
    "and resumes when the script is uploaded") {
    SweepSpec spec = missing_script_sweep();
    spec.poll_interval = "300ms";  // the library is looked at again every 3 s
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the job paused with every session queued", [&] {
        return job_paused(e2e) &&
               scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'queued'") == spec.machines;
    });
    {
        ReadOnlyDb db(e2e.db_path());
        const auto reason = db.rows("SELECT paused_reason FROM jobs WHERE name = 'sweep'");
        REQUIRE(reason.size() == 1);
        CHECK(reason[0][0] == kReason);
    }
    // `lrsched status` shows why.
    const auto status = run_process(
        {LRSCHED_BINARY, "status", "sweep", "--json", "-c", (e2e.dir() / "lrsched.yaml").string()});
    REQUIRE_MESSAGE(status.exit_code == 0, status.err);
    const json st = json::parse(status.out);
    CHECK(st["jobs"]["sweep"]["paused"] == true);
    CHECK(st["jobs"]["sweep"]["paused_reason"] == kReason);
    CHECK(st["jobs"]["sweep"]["latest_run"]["sessions"]["queued"] == spec.machines);

    // Re-checked (another library listing), still paused, logged once, and
    // not one runliveresponse call: the sessions wait instead of being rejected.
    e2e.wait_until("the library to be listed again",
                   [&] { return calls(e2e.stats(), "libraryfiles_list") >= 3; });
    CHECK(job_paused(e2e));
    CHECK(count_of(e2e.log(), "job=sweep paused: " + kReason) == 1);
    CHECK(calls(e2e.stats(), "runliveresponse") == 0);
    CHECK(e2e.created_actions().empty());

    upload_to_sim(e2e, "collect.ps1", "Write-Output 'collected'\n");
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    INFO("stats: " << stats["calls"].dump());
    CHECK_FALSE(job_paused(e2e));
    CHECK(count_of(e2e.log(), "job=sweep resumed") == 1);
    CHECK(calls(stats, "runliveresponse", "400") == 0);  // no submit ever named a missing script
    CHECK(calls(stats, "runliveresponse", "201") > 0);
    CHECK(calls(stats, "libraryfiles_upload") == 1);  // the test's own; no library_dir
    CHECK(scalar(e2e, "SELECT count(*) FROM sessions") == spec.machines);
    check_every_session_done_or_expected(e2e);
}

TEST_CASE(
    "library e2e: an edit of a job waiting for the library re-checks it at once, and resumes it "
    "only when the script is there") {
    SweepSpec spec = missing_script_sweep();
    spec.machines = 4;
    spec.poll_interval = "30s";  // the periodic re-check would be 5 min away
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the job paused with every session queued", [&] {
        return job_paused(e2e) &&
               scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'queued'") == spec.machines;
    });
    const int listed = calls(e2e.stats(), "libraryfiles_list");

    // An edit while the script is still missing: looked at again, still paused.
    rewrite_job(e2e, "sweep", spec.commands);
    e2e.wait_until("the edited job's library re-check",
                   [&] { return calls(e2e.stats(), "libraryfiles_list") > listed; });
    CHECK(job_paused(e2e));
    CHECK(calls(e2e.stats(), "runliveresponse") == 0);

    // The script arrives; the next edit resumes the job long before 5 min.
    upload_to_sim(e2e, "collect.ps1", "Write-Output 'collected'\n");
    rewrite_job(e2e, "sweep", spec.commands + "  # touched\n");
    e2e.wait_until(
        "the job to resume and submit",
        [&] { return !job_paused(e2e) && calls(e2e.stats(), "runliveresponse", "201") > 0; },
        std::chrono::seconds(60));
    CHECK(calls(e2e.stats(), "runliveresponse", "400") == 0);
    CHECK(count_of(e2e.log(), "job=sweep resumed") == 1);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE(
    "library e2e: library_dir uploads what the library lacks or holds differently, once, and the "
    "sweep runs the uploaded script") {
    const std::string tool = std::string("MZ\x90\0\x03\0\0\0", 8) + std::string(5000, 'T');
    const std::string triage = "# local collect-triage, not the library's\r\nGet-Process\r\n";
    // The simulator preloads minidump.ps1 with exactly this content's digest.
    const std::string minidump = "lrsched-sim library file minidump.ps1";
    SweepSpec spec;
    spec.machines = 10;
    spec.never_online_fraction = "0";
    spec.commands =
        "  - PutFile: tool.exe\n"
        "  - RunScript: collect-triage.ps1\n"
        "    Args: -Quick\n";
    spec.library_files = {{"tool.exe", tool},
                          {"collect-triage.ps1", triage},
                          {"minidump.ps1", minidump},
                          {".notes", "dot-file: ignored"},
                          {"bad name.ps1", "refused name"},
                          {"huge.bin", std::string(lrsched::api::kMaxLibraryUpload + 1, 'h')}};
    DaemonE2e e2e(spec);
    const auto before = sim_library(e2e);
    REQUIRE(before.count("tool.exe") == 0);
    REQUIRE(before.at("collect-triage.ps1")["sha256"] != sha256_hex(triage));
    REQUIRE(before.at("minidump.ps1")["sha256"] == sha256_hex(minidump));

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    json stats = e2e.stats();
    INFO("stats: " << stats["calls"].dump());
    CHECK(calls(stats, "libraryfiles_upload", "200") == 2);
    CHECK(calls(stats, "libraryfiles_upload") == 2);
    const auto after = sim_library(e2e);
    CHECK(after.at("tool.exe")["sha256"] == sha256_hex(tool));
    CHECK(after.at("collect-triage.ps1")["sha256"] == sha256_hex(triage));
    CHECK(after.at("minidump.ps1") == before.at("minidump.ps1"));  // untouched, not re-sent
    CHECK(after.count("bad name.ps1") == 0);
    CHECK(after.count("huge.bin") == 0);
    CHECK(after.count(".notes") == 0);

    const std::string log = e2e.log();
    CHECK(log.find("tenant=sim file=tool.exe bytes=" + std::to_string(tool.size()) +
                   " sha256=" + sha256_hex(tool) + " uploaded") != std::string::npos);
    CHECK(log.find("tenant=sim file=collect-triage.ps1 bytes=" + std::to_string(triage.size()) +
                   " sha256=" + sha256_hex(triage) + " uploaded") != std::string::npos);
    CHECK(count_of(log, "file=\"bad name.ps1\" skipped: the library takes only letters") == 1);
    CHECK(count_of(log, "file=\"huge.bin\" skipped: 20971521 bytes, over the 20971520 bytes") == 1);
    CHECK(log.find("job=sweep paused") == std::string::npos);
    CHECK(calls(stats, "runliveresponse", "400") == 0);
    check_every_session_done_or_expected(e2e);

    // A second run with nothing changed locally: listed, nothing uploaded.
    const int listed = calls(stats, "libraryfiles_list");
    rewrite_job(e2e, "again", "  - RunScript: collect-triage.ps1\n");
    e2e.wait_until("the second job's run to finish", [&] {
        return scalar(e2e, "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") == 2;
    });
    stats = e2e.stats();
    CHECK(calls(stats, "libraryfiles_upload") == 2);
    CHECK(calls(stats, "libraryfiles_list") > listed);
    CHECK(count_of(e2e.log(), "skipped: the library takes only letters") == 1);  // logged once

    // An edit of one local file: that file alone is uploaded again.
    const std::string triage2 = triage + "Get-Service\r\n";
    {
        std::ofstream out(e2e.library_dir() / "collect-triage.ps1", std::ios::trunc);
        out << triage2;
    }
    rewrite_job(e2e, "third", "  - RunScript: collect-triage.ps1\n");
    e2e.wait_until("the third job's run to finish", [&] {
        return scalar(e2e, "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") == 3;
    });
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    stats = e2e.stats();
    CHECK(calls(stats, "libraryfiles_upload", "200") == 3);
    const auto last = sim_library(e2e);
    CHECK(last.at("collect-triage.ps1")["sha256"] == sha256_hex(triage2));
    CHECK(last.at("tool.exe") == after.at("tool.exe"));
    check_every_session_done_or_expected(e2e);
}

TEST_CASE(
    "library e2e: a library answering 503 delays the run's start, loses nothing, and the run "
    "starts once the listing and the upload go through") {
    const std::string script = "Write-Output 'from library_dir'\n";
    SweepSpec spec = missing_script_sweep();
    spec.machines = 8;
    spec.poll_interval = "300ms";  // a failed start is tried again after 3 s
    spec.library_files = {{"collect.ps1", script}};
    // The first listing fails; then the first upload.
    spec.sim_flags = {"--fault-library-unavailable", "1"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    INFO("stats: " << stats["calls"].dump());
    CHECK(stats["faults_injected"]["library_unavailable"] == 2);
    CHECK(calls(stats, "libraryfiles_list", "503") == 1);
    CHECK(calls(stats, "libraryfiles_upload", "503") == 1);
    CHECK(calls(stats, "libraryfiles_upload", "200") == 1);
    CHECK(sim_library(e2e).at("collect.ps1")["sha256"] == sha256_hex(script));
    const std::string log = e2e.log();
    CHECK(count_of(log,
                   "job=sweep run=1 not started yet: the live response library was not "
                   "checked: ") == 2);
    CHECK(log.find("job=sweep paused") == std::string::npos);
    CHECK(calls(stats, "runliveresponse", "400") == 0);
    CHECK(scalar(e2e, "SELECT count(*) FROM sessions") == spec.machines);
    check_every_session_done_or_expected(e2e);
}
