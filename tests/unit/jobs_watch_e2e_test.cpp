// Live job files (issue 13, item 3; SPEC §2) through the real `lrsched
// daemon` and lrsched-sim: jobs_dir watched with inotify. Every test but the
// fallback one sets `jobs_scan_every: 1h`, so a change seen within the
// tests' bounds (a minute or two) can only have come through the watch; the
// log line of the watch is checked too, so a daemon that fell back to its
// 2 s scan cannot pass for one that watches. Editors' ways of saving are
// replayed with the same system calls (a temporary file renamed over, vim's
// 4913 probe and ~ backup). Waits are bounded loops on an observable.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

using lrsched::test::DaemonE2e;
using lrsched::test::kFinalStatesSql;
using lrsched::test::ReadOnlyDb;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kWatchOnly = "jobs_scan_every: 1h\n";
constexpr const char* kWatching = "watching jobs_dir with inotify";

fs::path jobs_dir(DaemonE2e& e2e) {
    return e2e.dir() / "jobs";
}

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

// What most editors and configuration tools do: the new content in a
// temporary file of the same folder, renamed over the job file.
void save_by_rename(const fs::path& path, const std::string& text) {
    const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp4711");
    write_file(tmp, text);
    fs::rename(tmp, path);
}

// vim's save with its defaults: a probe file 4913 created and removed, the
// file renamed to its ~ backup, the new content written under the name, the
// backup removed. Between the rename and the write the job has no file.
void save_like_vim(const fs::path& path, const std::string& text) {
    const fs::path probe = path.parent_path() / "4913";
    write_file(probe, "");
    fs::remove(probe);
    const fs::path backup = path.string() + "~";
    fs::rename(path, backup);
    write_file(path, text);
    fs::remove(backup);
}

std::string config_path(DaemonE2e& e2e) {
    return (e2e.dir() / "lrsched.yaml").string();
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

std::int64_t runs_of(DaemonE2e& e2e, const std::string& job, bool finished) {
    return scalar(
        e2e, "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.name = '" + job +
                 "'" + (finished ? " AND r.finished_at IS NOT NULL" : ""));
}

bool definition_has(DaemonE2e& e2e, const std::string& job, const std::string& text) {
    return scalar(e2e, "SELECT count(*) FROM jobs WHERE name = '" + job +
                           "' AND instr(definition, '" + text + "') > 0") == 1;
}

SweepSpec quick_sweep() {
    SweepSpec spec;
    spec.machines = 6;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.config_extra = kWatchOnly;
    return spec;
}

std::string one_shot_job(const std::string& extra = "") {
    return "targets:\n  tags: [tier0, server, workstation]\ncommands:\n"
           "  - GetFile: 'C:\\Windows\\Temp\\x.log'\n" +
           extra;
}

}  // namespace

TEST_CASE(
    "jobs watch e2e: a new file and edits saved by rename are seen without the periodic scan, "
    "and editors' temporary files cause no error") {
    DaemonE2e e2e(quick_sweep());
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    REQUIRE(count_lines(e2e.log(), kWatching) == 1);

    // Files that are not jobs: a rescan each, never an error.
    write_file(jobs_dir(e2e) / "notes.txt", "not a job\n");
    write_file(jobs_dir(e2e) / "sweep.yaml~", "targets: [\n");
    write_file(jobs_dir(e2e) / ".sweep.yaml.swp", "\x01\x02");
    fs::create_directory(jobs_dir(e2e) / "drafts");
    write_file(jobs_dir(e2e) / "drafts" / "half.yaml", "targets: [\n");

    // A new job, saved the way tools save atomically: it runs (a one-shot
    // job runs when first loaded).
    save_by_rename(jobs_dir(e2e) / "probe.yaml", one_shot_job());
    e2e.wait_until(
        "the new job's run to finish", [&] { return runs_of(e2e, "probe", true) == 1; },
        std::chrono::seconds(120));

    // An edit saved by rename takes effect (the stored definition changes).
    save_by_rename(jobs_dir(e2e) / "probe.yaml", one_shot_job("comment: edited by rename\n"));
    e2e.wait_until("the renamed-over edit in force",
                   [&] { return definition_has(e2e, "probe", "edited by rename"); });

    // vim's save: the job is never taken for deleted, its run never withdrawn.
    save_like_vim(jobs_dir(e2e) / "sweep.yaml",
                  one_shot_job("comment: edited in vim\nretry: {busy_every: 1s}\n"));
    e2e.wait_until("vim's edit in force",
                   [&] { return definition_has(e2e, "sweep", "edited in vim"); });

    const std::string log = e2e.log();
    INFO(e2e.log_tail(40));
    CHECK(scalar(e2e, "SELECT count(*) FROM jobs WHERE deleted_at IS NOT NULL") == 0);
    CHECK(scalar(e2e, "SELECT count(*) FROM sessions WHERE state = 'withdrawn'") == 0);
    CHECK(count_lines(log, "refused") == 0);
    CHECK(count_lines(log, " error ") == 0);
    CHECK(count_lines(log, "deleted") == 0);
    // An edit of a one-shot job does not run it again.
    CHECK(runs_of(e2e, "sweep", false) == 1);
    CHECK(runs_of(e2e, "probe", false) == 1);
    const json s = status(e2e);
    INFO(s.dump(2));
    for (const auto& [name, job] : s["jobs"].items())
        CHECK_MESSAGE(job["last_error"].is_null(), name);
    CHECK(count_lines(e2e.log(), kWatching) == 1);
}

TEST_CASE(
    "jobs watch e2e: an invalid edit keeps the last valid version, shows its error until "
    "fixed, and logs it once") {
    DaemonE2e e2e(quick_sweep());
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    const auto before =
        ReadOnlyDb(e2e.db_path())
            .rows("SELECT definition, source_sha256 FROM jobs WHERE name = 'sweep'");
    REQUIRE(before.size() == 1);

    save_by_rename(jobs_dir(e2e) / "sweep.yaml", one_shot_job("colour: blue\n"));
    e2e.wait_until("the refused edit shown by status",
                   [&] { return status(e2e)["jobs"]["sweep"]["last_error"].is_string(); });
    const std::string error = status(e2e)["jobs"]["sweep"]["last_error"];
    CHECK(std::regex_search(error, std::regex("sweep\\.yaml:[0-9]+:[0-9]+: ")));
    CHECK(error.find("colour") != std::string::npos);
    {
        ReadOnlyDb db(e2e.db_path());
        CHECK(db.rows("SELECT definition, source_sha256 FROM jobs WHERE name = 'sweep'") == before);
        CHECK(db.scalar("SELECT count(*) FROM jobs WHERE deleted_at IS NOT NULL") == 0);
    }
    // More events (an unrelated file, the bad file touched again) rescan;
    // the error stays, logged once.
    write_file(jobs_dir(e2e) / "notes.txt", "x\n");
    save_by_rename(jobs_dir(e2e) / "sweep.yaml", one_shot_job("flavour: red\n"));
    e2e.wait_until("the second refused edit shown", [&] {
        const json s = status(e2e)["jobs"]["sweep"]["last_error"];
        return s.is_string() && s.get<std::string>().find("flavour") != std::string::npos &&
               count_lines(e2e.log(), "job=sweep refused") == 2;
    });
    write_file(jobs_dir(e2e) / "notes.txt", "y\n");
    CHECK(status(e2e)["jobs"]["sweep"]["last_error"].is_string());

    // Fixed: the new version is in force and the error gone.
    save_by_rename(jobs_dir(e2e) / "sweep.yaml", one_shot_job("comment: fixed\n"));
    e2e.wait_until("the fix in force", [&] {
        return definition_has(e2e, "sweep", "fixed") &&
               status(e2e)["jobs"]["sweep"]["last_error"].is_null();
    });
    INFO(e2e.log_tail(40));
    CHECK(count_lines(e2e.log(), "job=sweep refused") == 2);  // once per bad version
    CHECK(count_lines(e2e.log(), kWatching) == 1);
}

TEST_CASE(
    "jobs watch e2e: a job file deleted mid-sweep withdraws its queued sessions and those on "
    "the server are collected") {
    SweepSpec spec = quick_sweep();
    spec.machines = 40;
    spec.submit_calls = 2;
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("some sessions on the server", [&] {
        return scalar(e2e, "SELECT count(*) FROM sessions WHERE action_id IS NOT NULL") >= 4;
    });
    fs::remove(jobs_dir(e2e) / "sweep.yaml");
    e2e.wait_for_sweep_end();
    INFO(e2e.log_tail(40));
    REQUIRE(count_lines(e2e.log(), kWatching) == 1);
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM jobs WHERE name = 'sweep' AND deleted_at IS NOT NULL") ==
          1);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'withdrawn'") > 0);
    CHECK(db.scalar(std::string("SELECT count(*) FROM sessions WHERE state NOT IN ") +
                    kFinalStatesSql) == 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE action_id IS NOT NULL AND state <> "
                    "'done'") == 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE action_id IS NOT NULL") ==
          static_cast<std::int64_t>(e2e.created_actions().size()));
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'withdrawn' AND action_id IS "
                    "NOT NULL") == 0);
}

TEST_CASE("jobs watch e2e: an edit of a from_file target list in a subfolder is seen") {
    DaemonE2e e2e(quick_sweep());
    fs::create_directories(jobs_dir(e2e) / "targets");
    write_file(jobs_dir(e2e) / "targets" / "list.txt", "# none yet\n");
    write_file(jobs_dir(e2e) / "listed.yaml",
               "targets:\n  tags: [tier0]\n  from_file: targets/list.txt\ncommands:\n"
               "  - GetFile: 'C:\\Windows\\Temp\\x.log'\n");
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    const auto sha = [&] {
        ReadOnlyDb db(e2e.db_path());
        const auto rows = db.rows("SELECT source_sha256 FROM jobs WHERE name = 'listed'");
        REQUIRE(rows.size() == 1);
        return rows[0][0].value_or("");
    };
    const std::string first = sha();
    save_by_rename(jobs_dir(e2e) / "targets" / "list.txt", "# still none\n# really\n");
    e2e.wait_until("the new target list in force", [&] { return sha() != first; });
    INFO(e2e.log_tail(40));
    CHECK(count_lines(e2e.log(), " error ") == 0);
}

TEST_CASE(
    "jobs watch e2e: without a jobs_dir to watch the daemon says so once and scans every 2 s, "
    "and watches once the folder exists") {
    DaemonE2e e2e(quick_sweep());
    fs::remove_all(jobs_dir(e2e));
    e2e.start_daemon();
    e2e.wait_until("the fallback logged",
                   [&] { return count_lines(e2e.log(), "cannot watch jobs_dir") == 1; });
    // Created as a whole elsewhere and moved in, so that the job file is
    // there by the time the folder is.
    const fs::path staged = e2e.dir() / "jobs-staged";
    fs::create_directories(staged);
    write_file(staged / "sweep.yaml", one_shot_job());
    fs::rename(staged, jobs_dir(e2e));
    e2e.wait_for_sweep_end();
    e2e.wait_until("the watch on the new folder",
                   [&] { return count_lines(e2e.log(), kWatching) == 1; });
    save_by_rename(jobs_dir(e2e) / "sweep.yaml", one_shot_job("comment: watched again\n"));
    e2e.wait_until("the edit in force",
                   [&] { return definition_has(e2e, "sweep", "watched again"); });
    INFO(e2e.log_tail(40));
    CHECK(count_lines(e2e.log(), "cannot watch jobs_dir") == 1);
}

TEST_CASE("jobs watch e2e: a new scheduled job file runs at its next firing, not at once") {
    DaemonE2e e2e(quick_sweep());
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    save_by_rename(jobs_dir(e2e) / "minutely.yaml",
                   one_shot_job("schedule: {cron: '* * * * *', overlap: queue}\n"));
    e2e.wait_until("the new job loaded", [&] {
        return scalar(e2e, "SELECT count(*) FROM jobs WHERE name = 'minutely'") == 1;
    });
    e2e.wait_until(
        "its first firing's run", [&] { return runs_of(e2e, "minutely", false) >= 1; },
        std::chrono::seconds(150));
    INFO(e2e.log_tail(40));
    ReadOnlyDb db(e2e.db_path());
    // The run stands for a whole minute after the file was loaded: nothing
    // fired for an instant before the job existed.
    CHECK(db.scalar("SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.name = "
                    "'minutely' AND (r.\"trigger\" <> 'cron' OR r.scheduled_for % 60000 <> 0 OR "
                    "r.scheduled_for <= j.loaded_at)") == 0);
}
