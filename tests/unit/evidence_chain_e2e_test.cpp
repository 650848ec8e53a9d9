// The run digest end to end (issue 15 item 5): the real daemon collects a
// sweep from lrsched-sim; when the run ends its digest is in the store, in
// the log and in `status --json`, `verify --digest` accepts the folder, and a
// middle manifest line removed afterwards makes verify fail, naming the break.
#include "evidence/writer.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using lrsched::test::DaemonE2e;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;

TEST_CASE("chain e2e: a finished run's digest is shown by status and proves its manifest") {
    SweepSpec spec;
    spec.machines = 6;
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

    const auto status = run_process({LRSCHED_BINARY, "status", "--json", "-c", config});
    INFO("status: " << status.out << status.err);
    REQUIRE(status.exit_code == 0);
    const auto j = nlohmann::json::parse(status.out);
    const auto& digest_json = j.at("jobs").at("sweep").at("latest_run").at("digest");
    REQUIRE(digest_json.is_string());
    const std::string digest = digest_json.get<std::string>();
    CHECK(digest.size() == 64);
    const auto text = run_process({LRSCHED_BINARY, "status", "-c", config});
    CHECK(text.out.find("digest: " + digest) != std::string::npos);

    const fs::path run_dir = e2e.dir() / "state" / "evidence" / "sweep" / "1";
    CHECK(lrsched::evidence::manifest_digest(run_dir.string()) == digest);
    const auto ok = run_process({LRSCHED_BINARY, "verify", run_dir.string(), "--digest", digest});
    INFO("verify: " << ok.out);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.find("chain: chained, intact") != std::string::npos);
    CHECK(e2e.log().find("job=sweep run=1 digest=" + digest) != std::string::npos);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    // A middle line removed (its file too, so only the chain can tell).
    std::vector<std::string> lines;
    {
        std::ifstream in(run_dir / "manifest.jsonl");
        for (std::string line; std::getline(in, line);)
            lines.push_back(line);
    }
    // The head, 6 machines x 2 results, then results.jsonl (the run digest's line).
    REQUIRE(lines.size() == 14);
    CHECK(nlohmann::json::parse(lines.back()).at("file") == "results.jsonl");
    const auto removed = nlohmann::json::parse(lines[5]);
    fs::remove(run_dir / removed.at("file").get<std::string>());
    lines.erase(lines.begin() + 5);
    {
        std::ofstream out(run_dir / "manifest.jsonl", std::ios::trunc);
        for (const auto& l : lines)
            out << l << '\n';
    }
    const auto broken = run_process({LRSCHED_BINARY, "verify", run_dir.string()});
    INFO("verify: " << broken.out);
    CHECK(broken.exit_code == 1);
    CHECK(broken.out.find("chain: manifest.jsonl:6: chain broken") != std::string::npos);
    CHECK(broken.out.find("missing:") == std::string::npos);
}
