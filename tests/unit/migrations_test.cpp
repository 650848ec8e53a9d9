#include "store/migrations.hpp"

#include "store/sqlite.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using lrsched::Errc;
using lrsched::store::apply_migrations;
using lrsched::store::Database;
using lrsched::store::embedded_migrations;
using lrsched::store::Migration;
using lrsched::store::OpenMode;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

const Migration kFirst{1, "001_a.sql", "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);"};
const Migration kSecond{2, "002_b.sql", "CREATE TABLE b (y INTEGER);"};
const Migration kThird{3, "003_c.sql", "ALTER TABLE a ADD COLUMN z TEXT;"};

Database open_db(const TempDir& dir) {
    return unwrap(Database::open((dir.path() / "m.db").string(), OpenMode::create_if_missing));
}

std::string raw_user_version(Database& db) {
    return unwrap(db.pragma("user_version"));
}

bool has_table(Database& db, const std::string& name) {
    auto s =
        unwrap(db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1"));
    s.bind_text(1, name);
    REQUIRE(unwrap(s.step()));
    return s.column_int64(0) == 1;
}

std::int64_t rows_in_a(Database& db) {
    auto s = unwrap(db.prepare("SELECT count(*) FROM a"));
    REQUIRE(unwrap(s.step()));
    return s.column_int64(0);
}

}  // namespace

TEST_CASE("the embedded migrations are numbered from 1 and bring a fresh file to the newest") {
    const auto& embedded = embedded_migrations();
    REQUIRE_FALSE(embedded.empty());
    TempDir dir;
    Database db = open_db(dir);
    CHECK(unwrap(apply_migrations(db, embedded)) == static_cast<int>(embedded.size()));
    CHECK(raw_user_version(db) == std::to_string(embedded.size()));
    for (const char* table : {"meta", "jobs", "runs", "sessions", "session_events", "artifacts"}) {
        CAPTURE(table);
        CHECK(has_table(db, table));
    }
}

TEST_CASE("migrations are applied once: a second start runs none of them again") {
    TempDir dir;
    {
        Database db = open_db(dir);
        CHECK(unwrap(apply_migrations(db, {kFirst, kSecond})) == 2);
    }
    Database db = open_db(dir);
    // Running kFirst again would fail (table a exists) or add a second row.
    CHECK(unwrap(apply_migrations(db, {kFirst, kSecond})) == 2);
    CHECK(raw_user_version(db) == "2");
    CHECK(rows_in_a(db) == 1);
}

TEST_CASE("a newer binary applies only the migrations the file lacks") {
    TempDir dir;
    Database db = open_db(dir);
    CHECK(unwrap(apply_migrations(db, {kFirst})) == 1);
    CHECK(unwrap(apply_migrations(db, {kFirst, kSecond, kThird})) == 3);
    CHECK(has_table(db, "b"));
    CHECK(rows_in_a(db) == 1);
    unwrap(db.exec("INSERT INTO a (x, z) VALUES (2, 'added by 003')"));
}

TEST_CASE("a database newer than every known migration is refused and left alone") {
    TempDir dir;
    Database db = open_db(dir);
    unwrap(db.exec("PRAGMA user_version = 7"));
    auto r = apply_migrations(db, {kFirst, kSecond});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::schema_mismatch);
    CHECK(r.error().message.find("schema version 7") != std::string::npos);
    CHECK(r.error().message.find("(2)") != std::string::npos);
    CHECK(raw_user_version(db) == "7");
    CHECK_FALSE(has_table(db, "a"));
}

TEST_CASE("a migration list not numbered 1, 2, 3 is refused before anything runs") {
    const std::vector<std::vector<Migration>> bad_lists{
        {kFirst, kThird},   // a gap
        {kSecond},          // does not start at 1
        {kFirst, kFirst},   // a repeat
        {kSecond, kFirst},  // out of order
    };
    for (const auto& list : bad_lists) {
        TempDir dir;
        Database db = open_db(dir);
        auto r = apply_migrations(db, list);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::invalid_input);
        CHECK(r.error().message.find("numbered 1, 2, 3") != std::string::npos);
        CHECK(raw_user_version(db) == "0");
        CHECK_FALSE(has_table(db, "a"));
    }
}

TEST_CASE("a failing migration is rolled back and leaves user_version before it") {
    TempDir dir;
    Database db = open_db(dir);
    const Migration broken{2, "002_broken.sql", "CREATE TABLE b (y INTEGER); THIS IS NOT SQL;"};
    auto r = apply_migrations(db, {kFirst, broken, kThird});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::database_error);
    CHECK(r.error().message.find("002_broken.sql") != std::string::npos);
    CHECK(raw_user_version(db) == "1");
    CHECK(has_table(db, "a"));
    CHECK_FALSE(has_table(db, "b"));  // its first statement was rolled back too
    // Fixed, the same list then completes from where it stopped.
    CHECK(unwrap(apply_migrations(db, {kFirst, kSecond, kThird})) == 3);
    CHECK(rows_in_a(db) == 1);
}
