// The run digest in the store (issue 15 item 5, schema/006): the chain tail
// follows the manifest while the run goes on, becomes runs.digest when the
// run ends, and is never rewritten afterwards, not even by hand.
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

TEST_CASE("store: a run's chain tail becomes its digest when it ends, and stays") {
    TempDir dir;
    const std::string path = (dir.path() / "lrsched.db").string();
    {
        Store store = unwrap(Store::open(path));
        const std::int64_t run = lrsched::test::make_run(store);
        unwrap(store.set_chain_tail(run, std::string(64, 'a')));
        CHECK_FALSE(unwrap(store.run_digest(run)).has_value());  // still going: none
        unwrap(store.set_chain_tail(run, std::string(64, 'b')));
        unwrap(store.mark_run_resolved(run, std::nullopt, 3'000));
        CHECK(unwrap(store.finish_run_if_done(run, 4'000)));
        CHECK(unwrap(store.run_digest(run)) == std::string(64, 'b'));
        // A late tail (it cannot come, the run has ended) leaves the digest.
        unwrap(store.set_chain_tail(run, std::string(64, 'c')));
        CHECK_FALSE(unwrap(store.finish_run_if_done(run, 5'000)));
        CHECK(unwrap(store.run_digest(run)) == std::string(64, 'b'));
    }
    Database db = unwrap(Database::open(path, OpenMode::must_exist));
    const auto r = db.exec("UPDATE runs SET digest = '" + std::string(64, 'd') + "'");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("runs.digest is written once") != std::string::npos);
}

TEST_CASE("store: a run that ends without a manifest has no digest") {
    TempDir dir;
    Store store = unwrap(Store::open((dir.path() / "lrsched.db").string()));
    const std::int64_t run = lrsched::test::make_run(store);
    unwrap(store.mark_run_resolved(run, std::nullopt, 3'000));
    CHECK(unwrap(store.finish_run_if_done(run, 4'000)));
    CHECK_FALSE(unwrap(store.run_digest(run)).has_value());
}
