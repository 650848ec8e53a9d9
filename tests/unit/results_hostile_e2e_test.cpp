// Hostile results (issue 15's "done means"): after a real sweep, three of its
// stored results are replaced, as a compromised machine or an attacker with
// the folder could make them: a ZIP bomb (512 MiB of zeros deflated to half
// a MB), a ZIP whose entries are named `../../escape.txt`, `/tmp/...` and a
// terminal escape, and a RunScript transcript of 100 MB. `results`, `stack`
// and `diff` still answer, naming what they could not read, with a peak
// memory far below what those files expand to, and nothing is written
// outside the run folder (nothing is extracted at all).
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using lrsched::test::DaemonE2e;
using lrsched::test::ReadOnlyDb;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;
using nlohmann::json;

namespace {

// Writes the three hostile files with Debian's Python (zipfile streams the
// bomb: it is never held in memory).
constexpr const char* kMakeHostile = R"(
import json, sys, zipfile
bomb, names, transcript, canary = sys.argv[1:5]
with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("zeros.bin", "w", force_zip64=True) as f:
        block = bytes(1 << 20)
        for _ in range(512):
            f.write(block)
with zipfile.ZipFile(names, "w") as z:
    z.writestr("../../escape.txt", "out")
    z.writestr(canary, "absolute")
    z.writestr("red\x1b[31m.txt", "escape")
with open(transcript, "w") as f:
    f.write('{"script_name":"collect.ps1","exit_code":0,"script_output":"')
    f.write("Transcript started, output file is C:\\\\x.txt\\r\\n")
    line = "A" * 1023 + "\\n"
    for _ in range(100 * 1024):
        f.write(line)
    f.write('","script_errors":""}')
)";

std::set<std::string> tree(const fs::path& root) {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        out.insert(e.path().lexically_relative(root).generic_string());
    return out;
}

}  // namespace

TEST_CASE("results e2e: a ZIP bomb, ../ names and a 100 MB transcript, in bounded memory") {
    SweepSpec spec;
    spec.machines = 3;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.commands = "  - RunScript: collect.ps1\n  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
    spec.sim_flags = {
        "--library", "collect.ps1", "--getfile-size", "2000", "--runscript-fail-fraction", "0"};
    DaemonE2e e2e(spec);
    const std::string config = (e2e.dir() / "lrsched.yaml").string();
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const fs::path run_dir = e2e.dir() / "state" / "evidence" / "sweep" / "1";
    ReadOnlyDb db(e2e.db_path());
    const auto zips =
        db.rows("SELECT file FROM artifacts WHERE command_type = 'GetFile' ORDER BY id");
    const auto transcripts =
        db.rows("SELECT file FROM artifacts WHERE command_type = 'RunScript' ORDER BY id");
    REQUIRE(zips.size() == 3);
    REQUIRE(transcripts.size() == 3);
    // ASan keeps freed memory in quarantine (256 MB by default), which would
    // count as the process's own; a small one leaves what it really holds.
    const std::vector<std::string> env = {"ASAN_OPTIONS=quarantine_size_mb=8"};
    // The same commands on the sweep as it came: what the binary itself
    // takes (a sanitizer build takes hundreds of MB before reading anything).
    const auto baseline =
        run_process({LRSCHED_BINARY, "results", "sweep", "--format", "jsonl", "-c", config}, env);
    REQUIRE(baseline.exit_code == 0);
    const fs::path canary = e2e.dir() / "absolute-canary.txt";
    const auto made =
        run_process({"/usr/bin/python3", "-c", kMakeHostile, (run_dir / *zips[0][0]).string(),
                     (run_dir / *zips[1][0]).string(), (run_dir / *transcripts[2][0]).string(),
                     canary.string()});
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
    const auto before = tree(e2e.dir());

    const auto results =
        run_process({LRSCHED_BINARY, "results", "sweep", "--format", "jsonl", "-c", config}, env);
    INFO(results.err);
    REQUIRE(results.exit_code == 0);
    // Far below the 512 MiB the bomb expands to and the 100 MB transcript.
    MESSAGE("peak RSS " << baseline.max_rss_kb << " KiB on the sweep, " << results.max_rss_kb
                        << " KiB on the hostile files");
    CHECK(results.max_rss_kb - baseline.max_rss_kb < 64 * 1024);
    bool bomb_named = false;
    bool names_kept = false;
    bool transcript_cut = false;
    std::istringstream rows(results.out);
    for (std::string line; std::getline(rows, line);) {
        const json row = json::parse(line);
        for (const json& r : row["results"]) {
            if (r["file"] == *zips[0][0])
                bomb_named = r.value("note", "").find("ZIP bomb") != std::string::npos;
            if (r["file"] == *zips[1][0]) {
                std::set<std::string> names;
                for (const json& e : r["entries"])
                    names.insert(e["name"]);
                names_kept = names.count("../../escape.txt") && names.count(canary.string());
            }
            if (r["file"] == *transcripts[2][0])
                transcript_cut = r["output"]["truncated"] == true &&
                                 r["output"]["bytes"] == 100 * 1024 * 1024 &&
                                 r["output"]["text"].get<std::string>().size() <= 64 * 1024;
        }
    }
    CHECK(bomb_named);
    CHECK(names_kept);
    CHECK(transcript_cut);

    const auto table = run_process({LRSCHED_BINARY, "results", "sweep", "-c", config});
    REQUIRE(table.exit_code == 0);
    CHECK(table.out.find('\x1b') == std::string::npos);  // shown escaped, never sent
    const auto stack = run_process({LRSCHED_BINARY, "stack", "sweep", "-c", config}, env);
    REQUIRE(stack.exit_code == 0);
    CHECK(stack.max_rss_kb - baseline.max_rss_kb < 64 * 1024);

    // Nothing was extracted or written anywhere.
    CHECK(tree(e2e.dir()) == before);
    CHECK_FALSE(fs::exists(canary));
    CHECK_FALSE(fs::exists(run_dir.parent_path().parent_path() / "escape.txt"));
}
