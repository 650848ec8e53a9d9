// Evidence end to end (SPEC §4): the real daemon collects the results of a
// sweep from lrsched-sim over TLS; every stored file is compared with the
// content the simulator derives for that machine and path, the run folder
// verifies with `lrsched verify`, and one altered byte is caught.
#include "common/sha256.hpp"
#include "evidence/writer.hpp"
#include "sim/model/results.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <utility>

namespace fs = std::filesystem;
using lrsched::test::DaemonE2e;
using lrsched::test::ReadOnlyDb;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;

namespace {

constexpr std::uint64_t kFileSize = 150'000;
const std::string kRemote = "C:\\Windows\\Temp\\x.log";

SweepSpec evidence_sweep() {
    SweepSpec spec;
    spec.machines = 40;
    spec.never_online_fraction = "0";
    spec.commands = "  - RunScript: collect.ps1\n  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
    spec.sim_flags = {"--library",
                      "collect.ps1",
                      "--getfile-size",
                      std::to_string(kFileSize),
                      "--runscript-fail-fraction",
                      "0.2"};
    return spec;
}

// A small sweep with every machine online and free and every RunScript
// succeeding: each session brings home exactly its two results.
SweepSpec quiet_sweep(int machines) {
    SweepSpec spec = evidence_sweep();
    spec.machines = machines;
    spec.offline_fraction = "0";
    spec.busy_fraction = "0";
    spec.sim_flags.back() = "0";  // --runscript-fail-fraction
    return spec;
}

std::uint32_t le(const std::string& b, std::size_t at, int n) {
    std::uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i)
        v = v << 8 | static_cast<unsigned char>(b.at(at + static_cast<std::size_t>(i)));
    return v;
}

// The SHA-256 of the one file inside a stored (uncompressed) ZIP, as the
// simulator builds them: local header, name, extra, data.
std::string zip_entry_sha256(const fs::path& zip) {
    std::ifstream in(zip, std::ios::binary);
    const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(le(b, 0, 4) == 0x04034b50u);
    REQUIRE(le(b, 8, 2) == 0u);  // stored
    const std::size_t data = 30 + le(b, 26, 2) + le(b, 28, 2);
    return lrsched::sha256_hex(std::string_view(b).substr(data, kFileSize));
}

// Every GetFile artifact holds exactly the simulator's content for its
// machine and path; every done session has both results; the folder verifies.
// `where`: the run folder when not at its usual place in the test's view
// (a daemon in its own mount namespace: /proc/<pid>/root/...).
void check_evidence(DaemonE2e& e2e, int results_per_session = 2, fs::path where = {}) {
    ReadOnlyDb db(e2e.db_path());
    const auto rows = db.rows(
        "SELECT s.machine_id, a.command_type, a.remote, a.file, a.bytes, a.sha256 FROM artifacts "
        "a JOIN sessions s ON s.id = a.session_id");
    REQUIRE_FALSE(rows.empty());
    const fs::path run_dir =
        where.empty() ? e2e.dir() / "state" / "evidence" / "sweep" / "1" : where;
    int getfiles = 0;
    for (const auto& r : rows) {
        INFO("artifact " << *r[3]);
        const fs::path file = run_dir / *r[3];
        REQUIRE(fs::is_regular_file(file));
        CHECK(std::to_string(fs::file_size(file)) == *r[4]);
        CHECK(lrsched::sha256_file(file.string()).value() == *r[5]);
        if (*r[1] == "GetFile") {
            ++getfiles;
            CHECK(r[3]->substr(r[3]->size() - 4) == ".zip");  // kept as delivered: a ZIP
            CHECK(zip_entry_sha256(file) ==
                  lrsched::sim::expected_file_sha256(*r[0], *r[2], kFileSize));
        }
    }
    CHECK(getfiles > 0);
    // A done session brought every result home; none was stored twice.
    CHECK(db.scalar("SELECT count(*) FROM sessions s WHERE s.state = 'done' AND (SELECT "
                    "count(*) FROM artifacts a WHERE a.session_id = s.id) != " +
                    std::to_string(results_per_session)) == 0);
    CHECK(db.scalar("SELECT count(*) FROM (SELECT 1 FROM artifacts GROUP BY action_id, "
                    "command_index HAVING count(*) > 1)") == 0);
    // The manifest lists each stored file exactly once, and nothing else
    // but results.jsonl, last.
    auto manifest = lrsched::evidence::read_manifest(run_dir.string());
    REQUIRE(!manifest.empty());
    CHECK(manifest.back().file == "results.jsonl");
    CHECK(manifest.back().command_type == "Results");
    manifest.pop_back();
    CHECK(manifest.size() == rows.size());
    std::set<std::pair<std::string, std::int64_t>> keys;
    for (const auto& e : manifest)
        keys.insert({e.action_id, e.command_index});
    CHECK(keys.size() == manifest.size());
    // Every transcript's exit code is on its session (the simulator's scripts
    // exit 1 now and then while the action succeeds).
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done' AND exit_code IS NULL") ==
          0);
    // The chain holds whatever crashes came, and the run's digest, frozen
    // when it ended, is the manifest's last line.
    const auto digest = lrsched::evidence::manifest_digest(run_dir.string());
    REQUIRE(digest);
    const auto stored = db.rows("SELECT digest FROM runs WHERE finished_at IS NOT NULL");
    REQUIRE(stored.size() == 1);
    CHECK(stored[0][0] == digest);
    const auto verify =
        run_process({LRSCHED_BINARY, "verify", run_dir.string(), "--digest", *digest});
    INFO(verify.out);
    CHECK(verify.exit_code == 0);
    CHECK(verify.out.find("chain: chained, intact") != std::string::npos);
}

}  // namespace

TEST_CASE("evidence e2e: every result is stored once, matches the simulator, and verifies") {
    DaemonE2e e2e(evidence_sweep());
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    check_evidence(e2e);
    // A failed RunScript ran no GetFile: its session is failed, with no file.
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'failed'") > 0);
    CHECK(db.scalar("SELECT count(*) FROM artifacts a JOIN sessions s ON s.id = a.session_id "
                    "WHERE s.state = 'failed' AND a.command_type = 'GetFile'") == 0);

    // Nothing the daemon created is open to other local users: the state
    // folder, the database and every evidence folder and file.
    for (const auto& e : fs::recursive_directory_iterator(e2e.dir() / "state")) {
        INFO(e.path().string());
        CHECK((e.symlink_status().permissions() & fs::perms::others_all) == fs::perms::none);
    }
    CHECK((fs::status(e2e.dir() / "state").permissions() & fs::perms::others_all) ==
          fs::perms::none);

    // One altered byte is caught.
    const fs::path run_dir = e2e.dir() / "state" / "evidence" / "sweep" / "1";
    const auto file =
        *db.rows("SELECT file FROM artifacts WHERE command_type = 'GetFile' LIMIT 1").at(0).at(0);
    {
        std::fstream f(run_dir / file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(1000);
        const char c = static_cast<char>(f.get());
        f.seekp(1000);
        f.put(static_cast<char>(c ^ 1));
    }
    const auto verify = run_process({LRSCHED_BINARY, "verify", run_dir.string()});
    CHECK(verify.exit_code == 1);
    CHECK(verify.out.find("altered: \"" + file + "\"") != std::string::npos);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("evidence e2e: expired links, resets and cut bodies still end with correct files") {
    SweepSpec spec = evidence_sweep();
    spec.machines = 20;
    for (const char* fault :
         {"--fault-truncate-download", "--fault-reset-download", "--fault-expire-link"}) {
        spec.sim_flags.emplace_back(fault);
        spec.sim_flags.emplace_back("0.2");
    }
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    const auto stats = e2e.stats();
    INFO(stats.dump());
    for (const char* fault : {"truncate_download", "reset_download", "expire_link"})
        REQUIRE(stats["faults_injected"][fault].get<int>() > 0);
    check_evidence(e2e);
    // A result fetched again never runs its commands again.
    CHECK(stats["duplicate_tags"] == 0);
    CHECK(stats["actions_created"] == 20);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

namespace {

const fs::path kRunDir = fs::path("state") / "evidence" / "sweep" / "1";

// Files under the run folder (not the manifest), relative to it.
std::vector<std::string> files_in(const fs::path& run_dir) {
    std::vector<std::string> out;
    if (!fs::exists(run_dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(run_dir))
        if (!e.is_directory() && e.path().filename() != "manifest.jsonl" &&
            e.path().filename() != "results.jsonl")
            out.push_back(e.path().lexically_relative(run_dir).generic_string());
    return out;
}

bool is_part(const std::string& f) {
    const auto name = fs::path(f).filename().string();
    return name.front() == '.' && name.size() > 5 && name.substr(name.size() - 5) == ".part";
}

// Kills the real daemon at `point` (the third time it gets there, so that
// finished files sit beside the one cut off), checks that the folder shows
// exactly that moment, restarts the daemon and checks that the collection
// completes with every file stored once and the folder verifying.
void crash_and_recover(const std::string& point) {
    SweepSpec spec = quiet_sweep(8);
    DaemonE2e e2e(spec);
    e2e.start_daemon({"LRSCHED_CRASH_AT=" + point + ":3"});
    CHECK(e2e.wait_for_daemon_exit() == -SIGKILL);

    const fs::path run_dir = e2e.dir() / kRunDir;
    const auto manifest = lrsched::evidence::read_manifest(run_dir.string());
    std::set<std::string> listed;
    for (const auto& e : manifest)
        listed.insert(e.file);
    int parts = 0;
    int unlisted = 0;
    for (const auto& f : files_in(run_dir)) {
        if (is_part(f))
            ++parts;
        else if (!listed.count(f))
            ++unlisted;
    }
    const auto stored = ReadOnlyDb(e2e.db_path()).scalar("SELECT count(*) FROM artifacts");
    INFO("point " << point << ": manifest " << manifest.size() << ", .part " << parts
                  << ", unlisted " << unlisted << ", artifacts " << stored);
    if (point == "evidence.before_rename") {
        CHECK(manifest.size() == 2);
        CHECK(parts == 1);  // complete and fsync'd, never renamed
        CHECK(unlisted == 0);
    } else if (point == "evidence.after_rename") {
        CHECK(manifest.size() == 2);
        CHECK(parts == 0);
        CHECK(unlisted == 1);  // under its final name, no manifest line yet
    } else {
        CHECK(manifest.size() == 3);
        CHECK(parts == 0);
        CHECK(unlisted == 0);
        CHECK(stored == 2);  // the third is listed but not in the store yet
    }

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    check_evidence(e2e);
    for (const auto& f : files_in(run_dir))
        CHECK_MESSAGE(!is_part(f), f);
    // The restart squared the folder with the store, as the log says.
    const bool listed_line = point == "evidence.after_manifest";
    CHECK(e2e.log().find(listed_line ? "1 listed file(s) recorded, 0 leftover(s) removed"
                                     : "0 listed file(s) recorded, 1 leftover(s) removed") !=
          std::string::npos);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

}  // namespace

TEST_CASE("evidence e2e: killed again and again while collecting, every result is stored once") {
    SweepSpec spec = quiet_sweep(30);
    // Each download takes 300 ms at the server and the daemon collects one
    // at a time: the 60 results take 18 s at least, however fast the build,
    // and each kill below comes after a few of them.
    spec.sim_flags.insert(spec.sim_flags.end(), {"--download-delay", "300ms"});
    DaemonE2e e2e(spec);
    const auto count = [&](const std::string& sql) { return e2e.query(sql).value_or(0); };
    std::int64_t stored = 0;
    int kills = 0;
    bool running = false;
    for (; kills < 6; ++kills) {
        e2e.start_daemon();
        running = true;
        // A few more results in: the daemon is in the middle of collecting
        // (and of submitting and polling) when the kill comes.
        e2e.wait_until("three more results stored", [&] {
            return count("SELECT count(*) FROM artifacts") >= stored + 3 ||
                   count("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") == 1;
        });
        if (count("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") == 1) break;
        CHECK(e2e.stop_daemon(SIGKILL) == -SIGKILL);
        running = false;
        stored = count("SELECT count(*) FROM artifacts");
    }
    MESSAGE("killed " << kills << " times with " << stored << " results stored");
    CHECK(kills >= 3);
    // Ended early (it must not), the sweep still has to check out below.
    if (!running) e2e.start_daemon();
    e2e.wait_for_sweep_end();
    check_evidence(e2e);
    const fs::path run_dir = e2e.dir() / kRunDir;
    for (const auto& f : files_in(run_dir))
        CHECK_MESSAGE(!is_part(f), f);
    // Each session's commands ran once, whatever the kills interrupted.
    const auto stats = e2e.stats();
    CHECK(stats["duplicate_tags"] == 0);
    CHECK(stats["actions_created"] == 30);
    CHECK(count("SELECT count(*) FROM sessions WHERE state = 'done'") == 30);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("evidence e2e: killed before a rename, the daemon drops the .part and fetches again") {
    crash_and_recover("evidence.before_rename");
}

TEST_CASE("evidence e2e: killed after a rename, the unlisted file goes and is fetched again") {
    crash_and_recover("evidence.after_rename");
}

TEST_CASE("evidence e2e: killed after the manifest line, the file is recorded, not fetched twice") {
    crash_and_recover("evidence.after_manifest");
}

TEST_CASE("evidence e2e: a result over max_file_size is not stored and fails its session once") {
    SweepSpec spec = quiet_sweep(8);
    spec.config_extra = "evidence: {max_file_size: 100KB}\n";  // the ZIPs hold 150 kB
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM sessions") == 8);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'failed' AND attempt = 1 AND "
                    "last_error LIKE '%results not stored: 1-GetFile-x.log: larger than "
                    "evidence.max_file_size (100 KB)%'") == 8);
    CHECK(db.scalar("SELECT count(*) FROM artifacts WHERE command_type = 'GetFile'") == 0);
    CHECK(db.scalar("SELECT count(*) FROM artifacts WHERE command_type = 'RunScript'") == 8);
    // One action per session: a cap is not a reason to run the commands again.
    CHECK(e2e.created_actions().size() == 8);
    const fs::path run_dir = e2e.dir() / kRunDir;
    for (const auto& f : files_in(run_dir))
        CHECK_MESSAGE(f.find("GetFile") == std::string::npos, f);
    const auto verify = run_process({LRSCHED_BINARY, "verify", run_dir.string()});
    INFO(verify.out);
    CHECK(verify.exit_code == 0);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("evidence e2e: a run's evidence stops at max_run_size and the rest is reported") {
    SweepSpec spec = quiet_sweep(8);
    constexpr std::uint64_t kRunCap = 500'000;  // room for three 150 kB ZIPs and transcripts
    spec.config_extra = "evidence: {max_run_size: 500KB}\n";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    ReadOnlyDb db(e2e.db_path());
    const auto total = db.scalar("SELECT coalesce(sum(bytes), 0) FROM artifacts");
    CHECK(total <= static_cast<std::int64_t>(kRunCap));
    CHECK(db.scalar("SELECT count(*) FROM artifacts WHERE command_type = 'GetFile'") >= 2);
    const auto refused = db.scalar(
        "SELECT count(*) FROM sessions WHERE state = 'failed' AND last_error LIKE '%would exceed "
        "evidence.max_run_size (500 KB)%'");
    CHECK(refused >= 4);
    CHECK(refused + db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") == 8);
    const fs::path run_dir = e2e.dir() / kRunDir;
    std::uint64_t on_disk = 0;
    for (const auto& f : files_in(run_dir))
        on_disk += fs::file_size(run_dir / f);
    CHECK(on_disk == static_cast<std::uint64_t>(total));
    const auto verify = run_process({LRSCHED_BINARY, "verify", run_dir.string()});
    INFO(verify.out);
    CHECK(verify.exit_code == 0);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("evidence e2e: hostile remote paths land inside the run folder, named safely") {
    SweepSpec spec = quiet_sweep(4);
    const std::vector<std::string> remotes = {"..\\..\\..\\..\\x",
                                              "/etc/passwd",
                                              "C:",
                                              "\\\\server\\share\\..\\..\\y",
                                              "\\\\?\\C:\\Windows\\z",
                                              "C:\\Temp\\" + std::string(300, 'n') + ".log",
                                              "C:\\Temp\\..",
                                              "C:\\Temp\\.manifest.jsonl"};
    spec.commands = "  - RunScript: collect.ps1\n";
    for (const auto& r : remotes)
        spec.commands += "  - GetFile: '" + r + "'\n";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") == 4);
    check_evidence(e2e, 1 + static_cast<int>(remotes.size()));
    // Everything written is a regular file inside the run folder's machine
    // folders, and the folder above holds nothing but the run.
    const fs::path run_dir = e2e.dir() / kRunDir;
    const fs::path root = fs::canonical(run_dir);
    for (const auto& e : fs::recursive_directory_iterator(e2e.dir() / "state" / "evidence")) {
        const fs::path p = fs::canonical(e.path());
        INFO(p.string());
        CHECK_FALSE(e.is_symlink());
        CHECK((p == root.parent_path() || p == root || p.parent_path() == root ||
               p.parent_path().parent_path() == root));
    }
    CHECK(db.scalar("SELECT count(*) FROM artifacts WHERE length(file) > 300") == 0);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

namespace {

// A /proc/<pid>/status field in kB (VmHWM: the peak resident set).
std::int64_t proc_status_kb(int pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
    FAIL("no " << field << " in /proc/" << pid << "/status");
    return -1;
}

}  // namespace

TEST_CASE("evidence e2e: a 200 MB GetFile streams to disk, hashed, with the daemon's RSS flat") {
    constexpr std::uint64_t kBig = 200'000'000;
    SweepSpec spec;
    spec.machines = 1;
    spec.offline_fraction = "0";
    spec.busy_fraction = "0";
    spec.never_online_fraction = "0";
    spec.sim_flags = {"--getfile-size", std::to_string(kBig), "--getfile-duration", "2s"};
    DaemonE2e e2e(spec);
    // The sanitizer build's daemon starts at some 130 MB (shadow memory and
    // the allocator's own), so what is measured is the growth of its peak
    // over the download. ASan's quarantine of freed blocks (256 MB by
    // default) is the tool's memory, not ours: kept to 1 MB here.
    e2e.start_daemon({"ASAN_OPTIONS=quarantine_size_mb=1"});
    // Targets resolved: TLS, token and listings are behind it; the GetFile
    // takes two more seconds on the simulated machine.
    e2e.wait_until("the run's targets resolved", [&] {
        return e2e.query("SELECT count(*) FROM runs WHERE resolved_at IS NOT NULL") == 1;
    });
    const std::int64_t before_kb = proc_status_kb(e2e.daemon_pid(), "VmHWM");
    e2e.wait_for_sweep_end();
    const std::int64_t peak_kb = proc_status_kb(e2e.daemon_pid(), "VmHWM");
    ReadOnlyDb db(e2e.db_path());
    REQUIRE(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") == 1);
    const auto row = db.rows(
                           "SELECT s.machine_id, a.file, a.bytes, a.sha256 FROM artifacts a "
                           "JOIN sessions s ON s.id = a.session_id")
                         .at(0);
    const fs::path file = e2e.dir() / kRunDir / *row[1];
    CHECK(std::stoull(*row[2]) > kBig);
    CHECK(fs::file_size(file) == std::stoull(*row[2]));
    CHECK(lrsched::sha256_file(file.string()).value() == *row[3]);
    MESSAGE("daemon peak RSS " << before_kb / 1024 << " MB before, " << peak_kb / 1024
                               << " MB after a " << kBig / 1'000'000 << " MB download");
    CHECK(peak_kb - before_kb < 32 * 1024);  // streamed: a buffered body would add 200 MB
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("evidence e2e: a full disk shows on the session, is retried, and dispatch goes on") {
    SweepSpec spec = quiet_sweep(8);
    DaemonE2e e2e(spec);
    // The daemon runs in its own user and mount namespaces, where the
    // evidence tree is a 4 MiB tmpfs filled by a ballast file but for some
    // 100 kB (less than one 150 kB ZIP): the disk is really full (ENOSPC),
    // no root needed.
    const fs::path evidence = e2e.dir() / "state" / "evidence";
    fs::create_directories(evidence);
    e2e.start_daemon({}, {"/usr/bin/unshare", "-Urm", "/bin/sh", "-c",
                          "mount -t tmpfs -o size=4m lrsched-test \"$0\" && "
                          "head -c 4100000 /dev/zero > \"$0/ballast\" && exec \"$@\"",
                          evidence.string()});
    const fs::path inside = "/proc/" + std::to_string(e2e.daemon_pid()) + "/root";
    e2e.wait_until("a collection to fail on the full disk", [&] {
        return e2e.query(
                   "SELECT count(*) FROM sessions WHERE state = 'collecting' AND "
                   "last_error LIKE '%disk full%'") >= 1;
    });
    // The daemon keeps running and dispatching: every session leaves the queue.
    e2e.wait_until("every session to be submitted while the disk is full", [&] {
        return e2e.query("SELECT count(*) FROM sessions WHERE state = 'queued'") == 0;
    });
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE state IN ('done', 'failed')") == 0);
    // Room again: the retries store everything.
    fs::remove(inside / evidence.relative_path() / "ballast");
    e2e.wait_for_sweep_end();
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") == 8);
    check_evidence(e2e, 2, inside / (evidence / "sweep" / "1").relative_path());
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}
