// Query plans of the store's own statements, for tests that assert a query
// uses its index instead of timing it (timings belong to tests/bench/).
//
// SqlRecorder captures the SQL text of every statement stepped on any SQLite
// connection opened while it lives (an auto-extension installs a trace hook
// on each new connection), so a test exercises the Store API as the daemon
// does and then asks SQLite, with EXPLAIN QUERY PLAN on a connection of its
// own, how each captured statement runs. The store's SQL is never copied into
// a test, so a changed query is checked as it now is. One recorder at a time
// (the hook is process-wide); tests run on one thread.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

namespace lrsched::test {

class SqlRecorder {
  public:
    SqlRecorder() {
        REQUIRE(current() == nullptr);
        current() = this;
        // void(*)(void) is the type sqlite3_auto_extension takes for any entry point.
        REQUIRE(sqlite3_auto_extension(reinterpret_cast<void (*)()>(&on_open)) == SQLITE_OK);
    }
    ~SqlRecorder() {
        sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&on_open));
        current() = nullptr;
    }
    SqlRecorder(const SqlRecorder&) = delete;
    SqlRecorder& operator=(const SqlRecorder&) = delete;

    // Distinct statements containing `needle`, in the order first run (the
    // SQL text as prepared: parameters unexpanded).
    std::vector<std::string> matching(const std::string& needle) const {
        std::vector<std::string> out;
        for (const auto& s : sql_)
            if (s.find(needle) != std::string::npos) out.push_back(s);
        return out;
    }
    void clear() { sql_.clear(); }

  private:
    static SqlRecorder*& current() {
        static SqlRecorder* r = nullptr;
        return r;
    }
    static int on_open(sqlite3* db, const char**, const sqlite3_api_routines*) {
        sqlite3_trace_v2(db, SQLITE_TRACE_STMT, &on_statement, nullptr);
        return SQLITE_OK;
    }
    static int on_statement(unsigned, void*, void* stmt, void*) {
        SqlRecorder* r = current();
        const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
        if (r == nullptr || sql == nullptr) return 0;
        std::string s(sql);
        if (s.rfind("EXPLAIN", 0) == 0) return 0;  // query_plan()'s own
        for (const auto& seen : r->sql_)
            if (seen == s) return 0;
        r->sql_.push_back(std::move(s));
        return 0;
    }

    std::vector<std::string> sql_;
};

// EXPLAIN QUERY PLAN of `sql` against the database at `path` (opened
// read-only, parameters left unbound): the `detail` column, one line each,
// e.g. "SEARCH sessions USING INDEX sessions_queued (run_id=? AND looks_offline=?)".
inline std::vector<std::string> query_plan(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (rc == SQLITE_OK && sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st,
                                              nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
    }
    const std::string error = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_finalize(st);
    sqlite3_close(db);
    INFO("query: " << sql << "\nSQLite: " << error);
    REQUIRE_FALSE(out.empty());
    return out;
}

// The plan as one string, for messages and substring checks.
inline std::string plan_text(const std::vector<std::string>& plan) {
    std::string s;
    for (const auto& line : plan)
        s += line + "\n";
    return s;
}

}  // namespace lrsched::test
