// Evidence end to end (SPEC §4): the real daemon collects the results of a
// sweep from lrsched-sim over TLS; every stored file is compared with the
// content the simulator derives for that machine and path, the run folder
// verifies with `lrsched verify`, and one altered byte is caught.
#include "common/sha256.hpp"
#include "sim/model/results.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

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
void check_evidence(DaemonE2e& e2e) {
    ReadOnlyDb db(e2e.db_path());
    const auto rows = db.rows(
        "SELECT s.machine_id, a.command_type, a.remote, a.file, a.bytes, a.sha256 FROM artifacts "
        "a JOIN sessions s ON s.id = a.session_id");
    REQUIRE_FALSE(rows.empty());
    const fs::path run_dir = e2e.dir() / "state" / "evidence" / "sweep" / "1";
    int getfiles = 0;
    for (const auto& r : rows) {
        INFO("artifact " << *r[3]);
        const fs::path file = run_dir / *r[3];
        REQUIRE(fs::is_regular_file(file));
        CHECK(std::to_string(fs::file_size(file)) == *r[4]);
        CHECK(lrsched::sha256_file(file.string()).value() == *r[5]);
        if (*r[1] == "GetFile") {
            ++getfiles;
            CHECK(*r[2] == kRemote);
            CHECK(r[3]->substr(r[3]->size() - 4) == ".zip");  // kept as delivered: a ZIP
            CHECK(zip_entry_sha256(file) ==
                  lrsched::sim::expected_file_sha256(*r[0], kRemote, kFileSize));
        }
    }
    CHECK(getfiles > 0);
    // A done session brought both results home; none was stored twice.
    CHECK(db.scalar("SELECT count(*) FROM sessions s WHERE s.state = 'done' AND (SELECT "
                    "count(*) FROM artifacts a WHERE a.session_id = s.id) != 2") == 0);
    // Every transcript's exit code is on its session (the simulator's scripts
    // exit 1 now and then while the action succeeds).
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done' AND exit_code IS NULL") ==
          0);
    const auto verify = run_process({LRSCHED_BINARY, "verify", run_dir.string()});
    INFO(verify.out);
    CHECK(verify.exit_code == 0);
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
    CHECK(verify.out.find("altered: " + file) != std::string::npos);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE("evidence e2e: cut-off downloads are fetched again and never stored under a final name") {
    SweepSpec spec = evidence_sweep();
    spec.machines = 20;
    spec.sim_flags.push_back("--fault-truncate-download");
    spec.sim_flags.push_back("0.3");
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    const auto stats = e2e.stats();
    INFO(stats.dump());
    REQUIRE(stats["faults_injected"]["truncate_download"].get<int>() > 0);
    check_evidence(e2e);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}
