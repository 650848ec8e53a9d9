// The run digest in the store (issue 15, schema/006 and 007): the chain tail
// follows the manifest while the run goes on; when the run is closed (its
// results line listed), the last line's hash becomes runs.digest with
// closed_at and an audit event, and is never rewritten afterwards, not even
// by hand; the audit log is append-only.
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::store::Database;
using lrsched::store::OpenMode;
using lrsched::store::Store;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

TEST_CASE("store: a closed run's digest is recorded once, with closed_at and an audit event") {
    TempDir dir;
    const std::string path = (dir.path() / "lrsched.db").string();
    const std::string b(64, 'b');
    {
        Store store = unwrap(Store::open(path));
        const std::int64_t run = lrsched::test::make_run(store);
        unwrap(store.set_chain_tail(run, std::string(64, 'a')));
        unwrap(store.mark_run_resolved(run, std::nullopt, 3'000));
        CHECK(unwrap(store.finish_run_if_done(run, 4'000)));
        // Ended, not closed: no digest yet, and the closer has it to do.
        CHECK_FALSE(unwrap(store.run_digest(run)).has_value());
        CHECK(unwrap(store.runs_to_close()) == std::vector<std::int64_t>{run});
        unwrap(store.close_run(run, b, 5'000));
        CHECK(unwrap(store.run_digest(run)) == b);
        const auto contents = unwrap(store.run_contents(run));
        CHECK(contents.closed_at == 5'000);
        CHECK(contents.chain_tail == b);
        // Closed, hooks not yet done: still listed; then not.
        CHECK(unwrap(store.runs_to_close()) == std::vector<std::int64_t>{run});
        unwrap(store.set_hooks_done(run, 6'000));
        CHECK(unwrap(store.runs_to_close()).empty());
        // Closing again (a retry after a crash) changes nothing.
        unwrap(store.close_run(run, std::string(64, 'c'), 7'000));
        CHECK(unwrap(store.run_digest(run)) == b);
        const auto audit = unwrap(store.audit_of_run(run));
        REQUIRE(audit.size() == 1);
        CHECK(audit[0].event == "run_digest");
        CHECK(audit[0].detail.find(b) != std::string::npos);
    }
    Database db = unwrap(Database::open(path, OpenMode::must_exist));
    const auto r = db.exec("UPDATE runs SET digest = '" + std::string(64, 'd') + "'");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("runs.digest is written once") != std::string::npos);
    const auto d = db.exec("DELETE FROM audit_events");
    REQUIRE_FALSE(d);
    CHECK(d.error().message.find("append-only") != std::string::npos);
}

TEST_CASE("store: removed evidence is marked once and audited with its digest") {
    TempDir dir;
    Store store = unwrap(Store::open((dir.path() / "lrsched.db").string()));
    const std::int64_t run = lrsched::test::make_run(store);
    unwrap(store.mark_run_resolved(run, std::nullopt, 3'000));
    CHECK(unwrap(store.finish_run_if_done(run, 4'000)));
    unwrap(store.close_run(run, std::string(64, 'e'), 5'000));
    unwrap(store.mark_evidence_removed(run, R"({"why":"evidence.keep_runs: 1"})", 9'000));
    const auto runs = unwrap(store.runs_of_job(unwrap(store.run_contents(run)).job));
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].evidence_removed_at == 9'000);
    CHECK(runs[0].digest == std::string(64, 'e'));
    const auto audit = unwrap(store.audit_of_run(run));
    REQUIRE(audit.size() == 2);
    CHECK(audit[1].event == "evidence_removed");
}
