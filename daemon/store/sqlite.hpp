// A small RAII layer over SQLite: a Database that owns the connection and a
// cache of prepared statements keyed by SQL text, a Statement guard that hands
// a cached statement back reset (each() and first() read its rows, so no
// caller writes the step loop), and a Transaction that rolls back unless
// committed. Every SQLite return code becomes Errc::database_error with
// SQLite's own message. One connection, owned by the io thread; the load is a
// few statements per state change (~10 a minute) plus batch inserts of up to
// 10^5 rows, so statements are prepared once and kept.
//
// <sqlite3.h> stays out of this header (and every other): only sqlite.cpp
// includes it; the store's .cpp files speak through this layer.
#pragma once

#include "common/result.hpp"

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

struct sqlite3;
struct sqlite3_stmt;

namespace lrsched::store {

class Statement;

namespace detail {
// What a row reader returns: a plain value, or a Result whose error stops
// the read.
template <typename R>
struct RowRead {
    using value_type = R;
    static constexpr bool kChecked = false;
};
template <typename T>
struct RowRead<Result<T>> {
    using value_type = T;
    static constexpr bool kChecked = true;
};
template <typename F>
using RowReadOf = RowRead<std::remove_cvref_t<std::invoke_result_t<F&, const Statement&>>>;
}  // namespace detail

// A statement borrowed from Database's cache for one use. Binding errors are
// kept and returned by the next step()/run(), so a sequence of binds needs no
// check of its own and no return code is lost. On destruction the statement
// is reset and its bindings cleared, ready for the next borrower. It must not
// outlive the Database it came from.
class Statement {
  public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    // Parameters are 1-based, as in SQLite.
    void bind_int64(int index, std::int64_t value);
    void bind_text(int index, std::string_view value);
    void bind_null(int index);
    void bind_optional_int64(int index, const std::optional<std::int64_t>& value);
    void bind_optional_text(int index, const std::optional<std::string>& value);

    // bind_all(a, b, c) binds parameters 1, 2, 3 by type: integers and bool as
    // int64, strings as text, std::nullopt as NULL, optionals as either.
    template <typename... Args>
    void bind_all(const Args&... args) {
        int index = 0;
        (bind_value(++index, args), ...);
    }

    // true: a row is ready for the column readers; false: the statement is done.
    Result<bool> step();
    // Steps to completion, for statements that return no rows.
    Result<void> run();

    // Steps to the end, calling `f(row)` on each row (`row` is this
    // statement, its column readers valid during the call). `f` returns void,
    // or Result<void> whose error stops the loop and is returned; a step's
    // error is returned as is.
    template <typename F>
    Result<void> each(F&& f) {
        using Read = detail::RowReadOf<F>;
        static_assert(std::is_void_v<typename Read::value_type>,
                      "each(): f returns void or Result<void>");
        for (;;) {
            auto row = step();
            if (!row) return std::move(row).error();
            if (!*row) return ok();
            if constexpr (Read::kChecked) {
                if (auto r = std::invoke(f, std::as_const(*this)); !r) return r;
            } else {
                std::invoke(f, std::as_const(*this));
            }
        }
    }

    // Steps once: std::nullopt if there is no row, else what `f(row)` reads
    // from the first row (a T, or a Result<T> whose error is returned). It
    // does not look for a second row; the statement stays on the first, so a
    // RETURNING statement can then be run() to its end.
    template <typename F>
    Result<std::optional<typename detail::RowReadOf<F>::value_type>> first(F&& f) {
        using Read = detail::RowReadOf<F>;
        using T = typename Read::value_type;
        static_assert(!std::is_void_v<T>, "first(): f returns the value read");
        auto row = step();
        if (!row) return std::move(row).error();
        if (!*row) return std::optional<T>{};
        if constexpr (Read::kChecked) {
            auto value = std::invoke(f, std::as_const(*this));
            if (!value) return std::move(value).error();
            return std::optional<T>{std::move(*value)};
        } else {
            return std::optional<T>{std::invoke(f, std::as_const(*this))};
        }
    }
    // Rewinds for another execution within the same borrow (a batch insert);
    // bindings are kept, to be overwritten.
    void reset() noexcept;

    // Column readers, 0-based, valid after step() returned true.
    std::int64_t column_int64(int index) const;
    std::string column_text(int index) const;
    bool column_is_null(int index) const;
    std::optional<std::int64_t> column_optional_int64(int index) const;
    std::optional<std::string> column_optional_text(int index) const;

  private:
    friend class Database;
    Statement(sqlite3_stmt* stmt, bool* in_use) noexcept : stmt_(stmt), in_use_(in_use) {}

    template <typename T>
    void bind_value(int index, const T& value) {
        if constexpr (std::same_as<T, std::nullopt_t>) {
            bind_null(index);
        } else if constexpr (std::same_as<T, bool>) {
            bind_int64(index, value ? 1 : 0);
        } else if constexpr (std::integral<T>) {
            bind_int64(index, static_cast<std::int64_t>(value));
        } else if constexpr (std::convertible_to<const T&, std::string_view>) {
            bind_text(index, std::string_view(value));
        } else {
            // std::optional<U> of any of the above.
            if (value.has_value()) {
                bind_value(index, *value);
            } else {
                bind_null(index);
            }
        }
    }
    void check_bind(int rc, int index, const char* what);

    sqlite3_stmt* stmt_;
    bool* in_use_;  // the cache entry's flag; cleared when this guard ends
    std::optional<Error> bind_error_;
};

// read_only: a reporting connection beside the daemon's writer (`lrsched
// status`). It never creates the file and cannot write to it.
enum class OpenMode { create_if_missing, must_exist, read_only };

class Database {
  public:
    // Opens `path` and sets the pragmas every lrsched connection relies on:
    // journal_mode=WAL (checked: SQLite answers with the mode in effect),
    // synchronous=FULL, foreign_keys=ON, busy_timeout=5000.
    // OpenMode::read_only instead opens with SQLITE_OPEN_READONLY, sets
    // query_only=1 and busy_timeout=2000 (an operator is waiting), and only
    // checks that the file is in WAL mode, where a reader never blocks the
    // writer; it may create the -wal and -shm files beside it, never the
    // database itself.
    static Result<Database> open(const std::string& path, OpenMode mode);

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    ~Database();

    const std::string& path() const noexcept { return path_; }

    // Runs one or more statements with no parameters and no result rows.
    Result<void> exec(const std::string& sql);

    // The cached statement for `sql`, prepared (SQLITE_PREPARE_PERSISTENT) on
    // first use. A statement can have one borrower at a time: asking for one
    // still in use is refused (it would reset the first borrower's work).
    Result<Statement> prepare(std::string_view sql);

    // The value of `PRAGMA name`, as text ("wal", "2", "1").
    Result<std::string> pragma(std::string_view name);

    std::int64_t last_insert_rowid() const noexcept;
    int changes() const noexcept;  // rows changed by the last INSERT, UPDATE or DELETE
    std::size_t cached_statements() const noexcept { return cache_.size(); }

  private:
    friend class Transaction;
    struct Closer {
        void operator()(sqlite3* db) const noexcept;
    };
    struct Finalizer {
        void operator()(sqlite3_stmt* stmt) const noexcept;
    };
    struct Cached {
        std::unique_ptr<sqlite3_stmt, Finalizer> stmt;
        bool in_use = false;
    };

    Database(std::unique_ptr<sqlite3, Closer> db, std::string path);
    Error error(std::string_view what) const;

    // Declared before the cache so that the statements are finalized first.
    std::unique_ptr<sqlite3, Closer> db_;
    std::string path_;
    // unique_ptr values: a Statement guard points into an entry, so entries
    // must not move when the map rehashes or the Database is moved.
    std::unordered_map<std::string, std::unique_ptr<Cached>> cache_;
};

// BEGIN IMMEDIATE on creation (the write lock is taken up front, so a write
// transaction never fails half-way for lack of it); ROLLBACK on destruction
// unless commit() succeeded. Not nested; must not outlive its Database.
class [[nodiscard]] Transaction {
  public:
    static Result<Transaction> begin(Database& db);
    // A deferred BEGIN for readers: no lock is taken; the first SELECT fixes
    // the snapshot (in WAL mode) that every later one in it reads.
    static Result<Transaction> begin_read(Database& db);

    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    Result<void> commit();

  private:
    explicit Transaction(sqlite3* db) noexcept : db_(db) {}
    // The connection, not the Database: a Database may be moved while this
    // lives. Null once committed or moved from.
    sqlite3* db_;
};

// Runs `body` (returning some Result<T>) inside one write transaction and
// commits if it succeeded; on any error the transaction is rolled back and
// the error returned. Statements borrowed inside `body` are handed back
// before the commit, as COMMIT requires.
template <typename F>
std::invoke_result_t<F&> in_transaction(Database& db, F&& body) {
    auto tx = Transaction::begin(db);
    if (!tx) return std::move(tx).error();
    auto result = std::invoke(body);
    if (!result) return result;
    if (auto committed = tx->commit(); !committed) return std::move(committed).error();
    return result;
}

}  // namespace lrsched::store
