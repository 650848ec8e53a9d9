#include "store/sqlite.hpp"

#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::Errc;
using lrsched::Result;
using lrsched::store::Database;
using lrsched::store::in_transaction;
using lrsched::store::OpenMode;
using lrsched::store::Transaction;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

Database open_db(const TempDir& dir, const char* name = "t.db") {
    return unwrap(Database::open((dir.path() / name).string(), OpenMode::create_if_missing));
}

std::int64_t count_rows(Database& db, const std::string& table) {
    auto s = unwrap(db.prepare("SELECT count(*) FROM " + table));
    REQUIRE(unwrap(s.step()));
    return s.column_int64(0);
}

}  // namespace

TEST_CASE("a connection runs in WAL mode with full sync, foreign keys and a busy timeout") {
    TempDir dir;
    Database db = open_db(dir);
    CHECK(unwrap(db.pragma("journal_mode")) == "wal");
    CHECK(unwrap(db.pragma("synchronous")) == "2");
    CHECK(unwrap(db.pragma("foreign_keys")) == "1");
    CHECK(unwrap(db.pragma("busy_timeout")) == "5000");
    unwrap(db.exec("CREATE TABLE t (x)"));
    CHECK(std::filesystem::exists(dir.path() / "t.db-wal"));
}

TEST_CASE("opening a missing file without create fails and names the file") {
    TempDir dir;
    const std::string path = (dir.path() / "absent.db").string();
    auto db = Database::open(path, OpenMode::must_exist);
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().code == Errc::database_error);
    CHECK(db.error().message.find(path) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("pragma refuses anything but a pragma name") {
    TempDir dir;
    Database db = open_db(dir);
    auto r = db.pragma("user_version; DROP TABLE x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_input);
}

TEST_CASE("a transaction that is not committed is rolled back when it ends") {
    TempDir dir;
    Database db = open_db(dir);
    unwrap(db.exec("CREATE TABLE t (x INTEGER)"));
    {
        auto tx = unwrap(Transaction::begin(db));
        unwrap(db.exec("INSERT INTO t VALUES (1)"));
        CHECK(count_rows(db, "t") == 1);
    }
    CHECK(count_rows(db, "t") == 0);
    {
        auto tx = unwrap(Transaction::begin(db));
        unwrap(db.exec("INSERT INTO t VALUES (2)"));
        unwrap(tx.commit());
    }
    CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("a committed transaction is visible to another connection, an open one is not") {
    TempDir dir;
    Database writer = open_db(dir);
    Database reader = open_db(dir);
    unwrap(writer.exec("CREATE TABLE t (x INTEGER)"));
    auto tx = unwrap(Transaction::begin(writer));
    unwrap(writer.exec("INSERT INTO t VALUES (1)"));
    CHECK(count_rows(reader, "t") == 0);
    // BEGIN IMMEDIATE took the write lock: a second writer cannot start.
    unwrap(reader.exec("PRAGMA busy_timeout = 0"));
    auto second = Transaction::begin(reader);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message.find("locked") != std::string::npos);
    unwrap(tx.commit());
    CHECK(count_rows(reader, "t") == 1);
}

TEST_CASE("a read-only connection never creates the file and cannot write") {
    TempDir dir;
    const std::string absent = (dir.path() / "absent.db").string();
    CHECK_FALSE(Database::open(absent, OpenMode::read_only).ok());
    CHECK_FALSE(std::filesystem::exists(absent));

    { unwrap(open_db(dir).exec("CREATE TABLE t (x INTEGER)")); }
    Database reader = unwrap(Database::open((dir.path() / "t.db").string(), OpenMode::read_only));
    CHECK(unwrap(reader.pragma("query_only")) == "1");
    CHECK(unwrap(reader.pragma("busy_timeout")) == "2000");
    CHECK(unwrap(reader.pragma("journal_mode")) == "wal");
    CHECK(reader.exec("INSERT INTO t VALUES (1)").error().code == Errc::database_error);
    CHECK_FALSE(reader.exec("CREATE TABLE u (x)").ok());
    CHECK(count_rows(reader, "t") == 0);
}

TEST_CASE("a read-only connection refuses a database that is not in WAL mode") {
    TempDir dir;
    const std::string path = (dir.path() / "rollback.db").string();
    {
        Database db = open_db(dir, "rollback.db");
        unwrap(db.exec("PRAGMA journal_mode=DELETE"));
    }
    const auto r = Database::open(path, OpenMode::read_only);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("not in WAL mode") != std::string::npos);
}

TEST_CASE("a read transaction keeps one snapshot and never blocks the writer") {
    TempDir dir;
    Database writer = open_db(dir);
    unwrap(writer.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"));
    Database reader = unwrap(Database::open((dir.path() / "t.db").string(), OpenMode::read_only));
    auto snapshot = unwrap(Transaction::begin_read(reader));
    CHECK(count_rows(reader, "t") == 1);
    unwrap(writer.exec("PRAGMA busy_timeout = 0"));  // a blocked writer would fail at once
    unwrap(in_transaction(writer, [&] { return writer.exec("INSERT INTO t VALUES (2)"); }));
    CHECK(count_rows(reader, "t") == 1);
    unwrap(snapshot.commit());
    CHECK(count_rows(reader, "t") == 2);

    // ... nor is a reader blocked by a writer holding the write lock.
    auto tx = unwrap(Transaction::begin(writer));
    unwrap(writer.exec("INSERT INTO t VALUES (3)"));
    unwrap(reader.exec("PRAGMA busy_timeout = 0"));
    auto again = unwrap(Transaction::begin_read(reader));
    CHECK(count_rows(reader, "t") == 2);
    unwrap(again.commit());
}

TEST_CASE("in_transaction commits on success and rolls back on error") {
    TempDir dir;
    Database db = open_db(dir);
    unwrap(db.exec("CREATE TABLE t (x INTEGER UNIQUE)"));
    unwrap(in_transaction(db, [&]() { return db.exec("INSERT INTO t VALUES (1)"); }));
    const Result<void> failed = in_transaction(db, [&]() -> Result<void> {
        if (auto r = db.exec("INSERT INTO t VALUES (2)"); !r) return r;
        return db.exec("INSERT INTO t VALUES (1)");  // UNIQUE violation
    });
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().message.find("UNIQUE constraint failed") != std::string::npos);
    CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("a statement from the cache comes back reset, its bindings cleared") {
    TempDir dir;
    Database db = open_db(dir);
    unwrap(db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)"));
    const std::string sql = "SELECT ?1, x FROM t ORDER BY x";
    {
        auto s = unwrap(db.prepare(sql));
        s.bind_int64(1, 42);
        REQUIRE(unwrap(s.step()));
        REQUIRE(unwrap(s.step()));  // left in the middle of its rows
        CHECK(s.column_int64(0) == 42);
        CHECK(s.column_int64(1) == 2);
    }
    CHECK(db.cached_statements() == 1);
    auto again = unwrap(db.prepare(sql));
    CHECK(db.cached_statements() == 1);  // the same statement, not a new one
    REQUIRE(unwrap(again.step()));
    CHECK(again.column_is_null(0));
    CHECK(again.column_int64(1) == 1);  // from the first row again
}

TEST_CASE("a cached statement has one borrower at a time") {
    TempDir dir;
    Database db = open_db(dir);
    auto first = unwrap(db.prepare("SELECT 1"));
    auto second = db.prepare("SELECT 1");
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == Errc::database_error);
    CHECK(second.error().message.find("in use") != std::string::npos);
}

TEST_CASE("typed binds and columns round-trip values, NULLs and optionals") {
    TempDir dir;
    Database db = open_db(dir);
    auto s = unwrap(db.prepare("SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7"));
    const std::optional<std::string> no_text;
    const std::optional<std::int64_t> some_int = -7;
    s.bind_all(std::int64_t{1} << 40, std::string("caf\xc3\xa9 \0x", 8), std::nullopt, true,
               no_text, some_int, "literal");
    REQUIRE(unwrap(s.step()));
    CHECK(s.column_int64(0) == std::int64_t{1} << 40);
    CHECK(s.column_text(1) == std::string("caf\xc3\xa9 \0x", 8));  // embedded NUL kept
    CHECK(s.column_is_null(2));
    CHECK(s.column_optional_text(2) == std::nullopt);
    CHECK(s.column_int64(3) == 1);
    CHECK(s.column_optional_text(4) == std::nullopt);
    CHECK(s.column_optional_int64(5) == -7);
    CHECK(s.column_text(6) == "literal");
    CHECK_FALSE(unwrap(s.step()));
}

TEST_CASE("a bind to a parameter that does not exist is reported by step") {
    TempDir dir;
    Database db = open_db(dir);
    auto s = unwrap(db.prepare("SELECT ?1"));
    s.bind_int64(3, 1);
    auto r = s.step();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::database_error);
    CHECK(r.error().message.find("#3") != std::string::npos);
}

TEST_CASE("SQLite's failures arrive as database_error with SQLite's message") {
    TempDir dir;
    Database db = open_db(dir);
    auto bad = db.prepare("SELEC 1");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::database_error);
    CHECK(bad.error().message.find("syntax error") != std::string::npos);

    auto exec = db.exec("CREATE TABLE t (x); CREATE TABLE t (x)");
    REQUIRE_FALSE(exec.ok());
    CHECK(exec.error().message.find("already exists") != std::string::npos);

    auto two = db.prepare("SELECT 1; SELECT 2");
    REQUIRE_FALSE(two.ok());
    CHECK(two.error().message.find("more than one statement") != std::string::npos);

    auto empty = db.prepare("  ");
    REQUIRE_FALSE(empty.ok());
}

TEST_CASE("a failed step inside a transaction leaves it open for rollback") {
    TempDir dir;
    Database db = open_db(dir);
    unwrap(db.exec("CREATE TABLE t (x INTEGER NOT NULL)"));
    {
        auto tx = unwrap(Transaction::begin(db));
        unwrap(db.exec("INSERT INTO t VALUES (1)"));
        auto s = unwrap(db.prepare("INSERT INTO t VALUES (?1)"));
        s.bind_null(1);
        auto r = s.run();
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("NOT NULL") != std::string::npos);
    }
    CHECK(count_rows(db, "t") == 0);
}
