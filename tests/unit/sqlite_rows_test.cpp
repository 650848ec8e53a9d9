// Statement::each() and Statement::first(), the two row readers every query
// in store/ goes through: rows in order, and both ways a read stops early (a
// step's error, the reader's own error) reach the caller.
#include "store/sqlite.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

using lrsched::Errc;
using lrsched::Error;
using lrsched::ok;
using lrsched::Result;
using lrsched::store::Database;
using lrsched::store::OpenMode;
using lrsched::store::Statement;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

// A table t(x) holding 1..n.
Database numbers(const TempDir& dir, int n) {
    Database db =
        unwrap(Database::open((dir.path() / "rows.db").string(), OpenMode::create_if_missing));
    unwrap(db.exec("CREATE TABLE t (x INTEGER)"));
    auto insert = unwrap(db.prepare("INSERT INTO t VALUES (?1)"));
    for (int i = 1; i <= n; ++i) {
        insert.bind_all(i);
        unwrap(insert.run());
        insert.reset();
    }
    return db;
}

// abs() of the smallest int64 overflows: a runtime error on the row where x
// is 3, after rows 1 and 2 were returned. No ORDER BY: SQLite would compute
// every row for the sort before returning the first; a scan is in rowid order.
constexpr const char* kFailsAtThree =
    "SELECT CASE WHEN x < 3 THEN x ELSE abs(-9223372036854775807 - 1) END FROM t";

}  // namespace

TEST_CASE("each() calls the reader once per row, in order, and ends ok") {
    TempDir dir;
    Database db = numbers(dir, 5);
    auto s = unwrap(db.prepare("SELECT x FROM t ORDER BY x"));
    std::vector<std::int64_t> seen;
    unwrap(s.each([&](const Statement& row) { seen.push_back(row.column_int64(0)); }));
    CHECK(seen == std::vector<std::int64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("each() over no rows never calls the reader") {
    TempDir dir;
    Database db = numbers(dir, 0);
    auto s = unwrap(db.prepare("SELECT x FROM t"));
    int calls = 0;
    unwrap(s.each([&](const Statement&) { ++calls; }));
    CHECK(calls == 0);
}

TEST_CASE("each() returns a step's error after the rows before it") {
    TempDir dir;
    Database db = numbers(dir, 5);
    auto s = unwrap(db.prepare(kFailsAtThree));
    std::vector<std::int64_t> seen;
    auto r = s.each([&](const Statement& row) { seen.push_back(row.column_int64(0)); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::database_error);
    CHECK(r.error().message.find("integer overflow") != std::string::npos);
    CHECK(seen == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("each() returns a bind error without calling the reader") {
    TempDir dir;
    Database db = numbers(dir, 3);
    auto s = unwrap(db.prepare("SELECT x FROM t WHERE x > ?1"));
    s.bind_int64(2, 0);  // no parameter 2
    int calls = 0;
    auto r = s.each([&](const Statement&) { ++calls; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("#2") != std::string::npos);
    CHECK(calls == 0);
}

TEST_CASE("a reader's error stops each() at that row and is returned as is") {
    TempDir dir;
    Database db = numbers(dir, 5);
    std::vector<std::int64_t> seen;
    {
        auto s = unwrap(db.prepare("SELECT x FROM t ORDER BY x"));
        auto r = s.each([&](const Statement& row) -> Result<void> {
            seen.push_back(row.column_int64(0));
            if (row.column_int64(0) == 3) return Error{Errc::not_found, "stop at 3"};
            return ok();
        });
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::not_found);
        CHECK(r.error().message == "stop at 3");
    }
    CHECK(seen == std::vector<std::int64_t>{1, 2, 3});
    // Left in the middle of its rows, the statement comes back reset.
    auto again = unwrap(db.prepare("SELECT x FROM t ORDER BY x"));
    int rows = 0;
    unwrap(again.each([&](const Statement&) { ++rows; }));
    CHECK(rows == 5);
}

TEST_CASE("first() gives nothing without a row, else what the reader read") {
    TempDir dir;
    Database db = numbers(dir, 3);
    auto s = unwrap(db.prepare("SELECT x, 'row ' || x FROM t WHERE x >= ?1 ORDER BY x"));
    s.bind_all(2);
    auto text = s.first([](const Statement& row) { return row.column_text(1); });
    static_assert(std::is_same_v<decltype(text), Result<std::optional<std::string>>>);
    CHECK(unwrap(std::move(text)) == std::optional<std::string>{"row 2"});
    // It stopped on that row: the next step gives the second one.
    REQUIRE(unwrap(s.step()));
    CHECK(s.column_int64(0) == 3);
    s.reset();

    s.bind_all(9);
    CHECK(unwrap(s.first([](const Statement& row) { return row.column_int64(0); })) ==
          std::nullopt);
}

TEST_CASE("first() returns a step's error and a reader's error") {
    TempDir dir;
    Database db = numbers(dir, 5);
    {
        auto s = unwrap(
            db.prepare("SELECT abs(-9223372036854775807 - 1) FROM t"));  // fails on the first row
        bool called = false;
        auto r = s.first([&](const Statement& row) {
            called = true;
            return row.column_int64(0);
        });
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("integer overflow") != std::string::npos);
        CHECK_FALSE(called);
    }
    auto s = unwrap(db.prepare("SELECT x FROM t ORDER BY x"));
    auto r = s.first([](const Statement& row) -> Result<std::int64_t> {
        return Error{Errc::database_error, "bad row " + std::to_string(row.column_int64(0))};
    });
    static_assert(std::is_same_v<decltype(r), Result<std::optional<std::int64_t>>>);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "bad row 1");
}
