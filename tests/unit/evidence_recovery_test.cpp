// Squaring a run's evidence folder with the store after a crash
// (evidence/recovery.hpp): a manifest line the store lacks is recorded, a
// .part file and a file the manifest never listed are removed, the run's
// bytes are counted; a second pass finds nothing to do.
#include "evidence/recovery.hpp"
#include "evidence/writer.hpp"
#include "support/dispatch_fixture.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using lrsched::evidence::ManifestEntry;
using lrsched::evidence::reconcile_run_folder;
using lrsched::test::DispatchFixture;
using lrsched::test::job_yaml;
using lrsched::test::unwrap;

TEST_CASE("a run folder left by a crash is squared with the store once, then left alone") {
    DispatchFixture f;
    const auto run = f.add_run("sweep", job_yaml(50), {{1, false}, {2, false}}, 0);
    const auto s1 = f.submit(0);
    f.created(s1, 1);
    const auto action = unwrap(f.store.find_session(s1.session_id))->action_id.value();

    const fs::path dir = f.dir.path() / "evidence" / "sweep" / std::to_string(run);
    fs::create_directories(dir / "m1");
    std::ofstream(dir / "m1" / "0-GetFile-x.log.zip") << "listed, not in the store";
    std::ofstream(dir / "m1" / ".1-GetFile-y.log.part") << "cut off";
    std::ofstream(dir / "m1" / "2-GetFile-z.log.zip") << "renamed, never listed";
    ManifestEntry e;
    e.job = "sweep";
    e.run = run;
    e.machine_id = s1.machine_id;
    e.computer_dns_name = "m1";
    e.action_id = action;
    e.command_index = 0;
    e.command_type = "GetFile";
    e.remote = "C:\\x.log";
    e.file = "m1/0-GetFile-x.log.zip";
    e.bytes = 24;
    e.sha256 = std::string(64, 'c');
    e.downloaded_at = "2026-11-22T00:00:00Z";
    e.action_status = "Succeeded";
    unwrap(lrsched::evidence::append_manifest(dir.string(), e));
    // A line of an action that is not ours is counted, never recorded.
    ManifestEntry foreign = e;
    foreign.action_id = "not-ours";
    foreign.file = "m1/0-GetFile-x.log.zip";
    unwrap(lrsched::evidence::append_manifest(dir.string(), foreign));

    const auto tally = unwrap(reconcile_run_folder(f.store, run, dir.string(), 500));
    CHECK(tally.bytes == 48);
    CHECK(tally.recorded == 1);
    CHECK(tally.removed == 2);
    const auto rows = unwrap(f.store.artifacts_of_session(s1.session_id));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].action_id == action);
    CHECK(rows[0].file == "m1/0-GetFile-x.log.zip");
    CHECK(rows[0].downloaded_at == 500);
    CHECK(fs::exists(dir / "m1" / "0-GetFile-x.log.zip"));
    CHECK_FALSE(fs::exists(dir / "m1" / ".1-GetFile-y.log.part"));
    CHECK_FALSE(fs::exists(dir / "m1" / "2-GetFile-z.log.zip"));

    const auto again = unwrap(reconcile_run_folder(f.store, run, dir.string(), 600));
    CHECK(again.bytes == 48);
    CHECK(again.recorded == 0);
    CHECK(again.removed == 0);
    CHECK(unwrap(f.store.artifacts_of_session(s1.session_id)).size() == 1);
}

TEST_CASE("a run folder that does not exist yet squares to nothing") {
    DispatchFixture f;
    const auto run = f.add_run("sweep", job_yaml(50), {{1, false}}, 0);
    const auto tally = unwrap(
        reconcile_run_folder(f.store, run, (f.dir.path() / "evidence" / "none").string(), 0));
    CHECK(tally.bytes == 0);
    CHECK(tally.recorded == 0);
    CHECK(tally.removed == 0);
}
