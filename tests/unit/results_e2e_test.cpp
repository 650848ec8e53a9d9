// Reading results end to end (issue 15's "done means"): the real daemon and
// lrsched-sim run one job three times; the first two with the same commands
// are `unchanged` per machine although each transcript's header names its
// own action, the third, with other RunScript arguments, `changed` with a
// diff of the output; `results` has one row per session with its exit code,
// results.jsonl is in the run folder and listed last in the manifest;
// `stack` puts the result only one machine gave first; the on_finish command
// receives each run's summary (the diff in the third), a webhook answered
// 500 twice is retried until it gets its 200, the daemon going on; and
// retention (keep_runs: 2) removes the first run's folder, the audit log
// keeping its digest.
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
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

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void wait_closed(DaemonE2e& e2e, int runs) {
    e2e.wait_until("run " + std::to_string(runs) + " to close", [&] {
        return e2e.query(
                   "SELECT count(*) FROM runs WHERE closed_at IS NOT NULL AND "
                   "hooks_done_at IS NOT NULL") == runs;
    });
}

std::string commands(const std::string& args) {
    return "  - RunScript: collect.ps1\n    Args: " + args +
           "\n  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
}

}  // namespace

TEST_CASE("results e2e: results, diff, stack, on_finish and retention over three runs") {
    SweepSpec spec;
    spec.machines = 6;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.commands = commands("-Mode a");
    spec.sim_flags = {"--library",
                      "collect.ps1",
                      "--getfile-size",
                      "2000",
                      "--runscript-fail-fraction",
                      "0",
                      "--odd-machines",
                      "1",
                      "--webhook-fail-first",
                      "2"};
    DaemonE2e e2e(spec);
    const fs::path hook_out = e2e.dir() / "hook.jsonl";
    const std::string webhook = e2e.ready()["base"].get<std::string>() + "/hooks/soc";
    const std::string job_extra =
        "on_finish:\n"
        "  command: [/bin/sh, -c, 'cat >> " +
        hook_out.string() + "; echo >> " + hook_out.string() +
        "']\n"
        "  webhook: " +
        webhook +
        "\n"
        "  diff: true\n"
        "evidence:\n"
        "  keep_runs: 2\n";
    {
        // The fixture wrote the job; the hooks and retention go with it.
        std::ofstream job(e2e.dir() / "jobs" / "sweep.yaml", std::ios::app);
        job << job_extra;
    }
    const std::string config = (e2e.dir() / "lrsched.yaml").string();
    const auto cli = [&](std::vector<std::string> argv) {
        argv.insert(argv.begin(), LRSCHED_BINARY);
        argv.insert(argv.end(), {"-c", config});
        auto r = run_process(argv);
        INFO(argv[1] << ": " << r.out << r.err);
        REQUIRE(r.exit_code == 0);
        return r.out;
    };
    e2e.start_daemon();
    wait_closed(e2e, 1);
    cli({"run", "sweep"});
    wait_closed(e2e, 2);

    // Same commands: every machine unchanged, though the transcripts differ
    // in their header (the action id).
    const json same = json::parse(cli({"diff", "sweep", "--json"}));
    CHECK(same["run_a"] == 1);
    CHECK(same["run_b"] == 2);
    CHECK(same["summary"] ==
          json{{"new", 0}, {"gone", 0}, {"unchanged", 6}, {"changed", 0}, {"failed", 0}});
    const auto rows1 = lines_of(cli({"results", "sweep", "--run", "1", "--format", "jsonl"}));
    const auto rows2 = lines_of(cli({"results", "sweep", "--run", "2", "--format", "jsonl"}));
    REQUIRE(rows1.size() == 6);
    REQUIRE(rows2.size() == 6);
    const json r1 = json::parse(rows1[0]);
    const json r2 = json::parse(rows2[0]);
    CHECK(r1["machine_id"] == r2["machine_id"]);
    CHECK(r1["results"][0]["transcript_header"] != r2["results"][0]["transcript_header"]);
    CHECK(r1["results"][0]["sha256"] != r2["results"][0]["sha256"]);
    CHECK(r1["results"][0]["content_sha256"] == r2["results"][0]["content_sha256"]);
    CHECK(r1["results"][1]["sha256"] != r2["results"][1]["sha256"]);  // the ZIP's times differ
    CHECK(r1["results"][1]["content_sha256"] == r2["results"][1]["content_sha256"]);

    // Other arguments: the output changes on every machine.
    {
        std::string job = slurp(e2e.dir() / "jobs" / "sweep.yaml");
        const auto at = job.find("-Mode a");
        REQUIRE(at != std::string::npos);
        job.replace(at, 7, "-Mode b");
        std::ofstream(e2e.dir() / "jobs" / "sweep.yaml", std::ios::trunc) << job;
    }
    cli({"reload"});
    cli({"run", "sweep"});
    wait_closed(e2e, 3);
    const json changed = json::parse(cli({"diff", "sweep", "--json"}));
    CHECK(changed["run_a"] == 2);
    CHECK(changed["run_b"] == 3);
    CHECK(changed["summary"]["changed"] == 6);
    CHECK(changed["summary"]["unchanged"] == 0);
    for (const json& m : changed["machines"]) {
        REQUIRE(m["results"].size() == 1);  // the GetFile result is the same
        CHECK(m["results"][0]["type"] == "RunScript");
        CHECK(m["results"][0]["what"] == "output");
    }
    const std::string shown = cli({"diff", "sweep", "--show"});
    CHECK(shown.find("-lrsched-sim ran collect.ps1 -Mode a") != std::string::npos);
    CHECK(shown.find("+lrsched-sim ran collect.ps1 -Mode b") != std::string::npos);

    // One row per session with its exit code; results.jsonl the same rows,
    // listed last in the manifest, which verifies against the run's digest.
    const auto rows3 = lines_of(cli({"results", "sweep", "--format", "jsonl"}));
    REQUIRE(rows3.size() == 6);
    for (const auto& line : rows3) {
        const json row = json::parse(line);
        CHECK(row["run"] == 3);
        CHECK(row["state"] == "done");
        CHECK(row["exit_code"] == 0);
        CHECK(row["results"].size() == 2);
    }
    const fs::path run3 = e2e.dir() / "state" / "evidence" / "sweep" / "3";
    CHECK(lines_of(slurp(run3 / "results.jsonl")).size() == 6);
    const auto manifest = lines_of(slurp(run3 / "manifest.jsonl"));
    CHECK(json::parse(manifest.back())["file"] == "results.jsonl");
    ReadOnlyDb db(e2e.db_path());
    const auto digest = db.rows("SELECT digest FROM runs WHERE id = 3")[0][0];
    REQUIRE(digest);
    const auto verified =
        run_process({LRSCHED_BINARY, "verify", run3.string(), "--digest", *digest});
    INFO(verified.out);
    CHECK(verified.exit_code == 0);
    const std::string csv = cli({"results", "sweep", "--format", "csv"});
    // A header, a record per result (a record's output cell spans lines).
    CHECK(csv.rfind("job,run,machine_id,", 0) == 0);
    std::size_t records = 0;
    for (const auto& line : lines_of(csv))
        records += line.rfind("sweep,3,", 0) == 0;
    CHECK(records == 6 * 2);

    // Stacking: the output only the odd machine gave comes first.
    const json stacked = json::parse(cli({"stack", "sweep", "--json"}));
    REQUIRE(stacked["results"].size() >= 2);
    CHECK(stacked["results"][0]["count"] == 1);
    CHECK(stacked["results"][0]["type"] == "RunScript");
    CHECK(stacked["results"].back()["count"] == 5);
    const std::string stack_text = cli({"stack", "sweep"});
    CHECK(stack_text.find("0 RunScript collect.ps1: 2 distinct result(s) on 6 machine(s)\n     1  "
                          "content ") != std::string::npos);

    // The command got each run's summary; the third with the diff.
    const auto summaries = lines_of(slurp(hook_out));
    REQUIRE(summaries.size() == 3);
    const json third = json::parse(summaries[2]);
    CHECK(third["run"] == 3);
    CHECK(third["digest"] == *digest);
    CHECK(third["sessions"]["done"] == 6);
    CHECK(third["diff"]["summary"]["changed"] == 6);
    CHECK(json::parse(summaries[0])["diff"].contains("error"));  // nothing before run 1

    // The webhook: 500 twice, then 200, for the first run; retried, logged,
    // recorded in the audit log; the daemon went on to the next runs.
    const auto audit =
        db.rows("SELECT run_id, detail FROM audit_events WHERE event = 'hook' ORDER BY id");
    int webhooks_ok = 0;
    for (const auto& row : audit) {
        const json d = json::parse(*row[1]);
        if (d["kind"] == "webhook" && d["ok"] == true) ++webhooks_ok;
        if (*row[0] == "1" && d["kind"] == "webhook") CHECK(d["attempts"] == 3);
    }
    CHECK(webhooks_ok == 3);
    CHECK(e2e.log().find("job=sweep run=1 hook=webhook ok") != std::string::npos);

    // Retention: run 1's folder is gone, the audit log keeps its digest.
    CHECK_FALSE(fs::exists(e2e.dir() / "state" / "evidence" / "sweep" / "1"));
    CHECK(fs::exists(e2e.dir() / "state" / "evidence" / "sweep" / "2"));
    const auto removed =
        db.rows("SELECT detail FROM audit_events WHERE event = 'evidence_removed' AND run_id = 1");
    REQUIRE(removed.size() == 1);
    const auto digest1 = db.rows("SELECT digest FROM runs WHERE id = 1")[0][0];
    CHECK(json::parse(*removed[0][0])["digest"] == *digest1);
    const auto gone = run_process({LRSCHED_BINARY, "results", "sweep", "--run", "1", "-c", config});
    CHECK(gone.exit_code == 1);
    CHECK(gone.err.find("was removed") != std::string::npos);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}
