// The only place that calls into SQLite's C API for connections, statements
// and transactions; see sqlite.hpp for the contract and the expected load.
#include "store/sqlite.hpp"

#include "common/safe_file.hpp"

#include <sqlite3.h>

#include <cassert>
#include <cstdint>
#include <new>
#include <utility>

namespace lrsched::store {
namespace {

// SQLITE_TRANSIENT is `((sqlite3_destructor_type)-1)`, an old-style cast that
// -Wold-style-cast rejects; this is the same value spelled in C++. It tells
// SQLite to copy the bytes, since our string_views do not outlive the bind.
sqlite3_destructor_type transient() noexcept {
    // NOLINTNEXTLINE(performance-no-int-to-ptr): SQLite's sentinel is this very integer.
    return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

Error sqlite_error(sqlite3* db, std::string_view what) {
    std::string message(what);
    message += ": ";
    message += db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    return Error{Errc::database_error, std::move(message)};
}

// `prefix` followed by a short form of a statement's SQL in backquotes, for
// error messages. Built by appending: g++ 12 at -O3 reports a false
// -Wrestrict on `"literal" + std::string` (GCC bug 105329).
std::string describe_sql(std::string_view prefix, std::string_view sql) {
    constexpr std::size_t kMax = 80;
    std::string out(prefix);
    out += '`';
    for (const char c : sql.substr(0, kMax))
        out += (c == '\n' || c == '\t') ? ' ' : c;
    if (sql.size() > kMax) out += "...";
    out += '`';
    return out;
}

Result<void> exec_raw(sqlite3* db, const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return ok();
    std::string text = describe_sql("", sql);
    text += ": ";
    text += message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return Error{Errc::database_error, std::move(text)};
}

// The first column of the first row of a one-off (uncached) query.
Result<std::string> query_text(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
        return sqlite_error(db, describe_sql("prepare ", sql));
    }
    const std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
    const int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) return std::string{};
    if (rc != SQLITE_ROW) return sqlite_error(db, describe_sql("", sql));
    const auto* text = sqlite3_column_text(stmt.get(), 0);
    if (text == nullptr) return std::string{};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), 0)));
}

// A reader's pragmas (OpenMode::read_only). It must not change the journal
// mode (that is a write), only find the one the daemon set: in any other mode
// a reader would block the writer.
Result<void> set_reader_pragmas(sqlite3* db, const std::string& path) {
    if (sqlite3_busy_timeout(db, 2000) != SQLITE_OK) {
        return sqlite_error(db, "busy_timeout on " + path);
    }
    if (auto r = exec_raw(db, "PRAGMA query_only=1"); !r) return r;
    auto journal = query_text(db, "PRAGMA journal_mode");
    if (!journal) return std::move(journal).error();
    if (*journal != "wal") {
        return Error{Errc::database_error,
                     path + " is not in WAL mode (journal_mode '" + *journal + "')"};
    }
    return ok();
}

}  // namespace

// ---- Statement ----

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_error_(std::move(other.bind_error_)) {}

Statement::~Statement() {
    if (stmt_ == nullptr) return;
    // sqlite3_reset repeats the error of the last step, already reported by
    // step(); clearing bindings cannot fail.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
}

void Statement::check_bind(int rc, int index, const char* what) {
    if (rc == SQLITE_OK || bind_error_) return;
    std::string prefix = "bind ";
    prefix += what;
    prefix += " #";
    prefix += std::to_string(index);
    prefix += " of ";
    bind_error_ = sqlite_error(sqlite3_db_handle(stmt_), describe_sql(prefix, sqlite3_sql(stmt_)));
}

void Statement::bind_int64(int index, std::int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index, "int64");
}

void Statement::bind_text(int index, std::string_view value) {
    check_bind(
        sqlite3_bind_text64(stmt_, index, value.data(), value.size(), transient(), SQLITE_UTF8),
        index, "text");
}

void Statement::bind_null(int index) {
    check_bind(sqlite3_bind_null(stmt_, index), index, "null");
}

void Statement::bind_optional_int64(int index, const std::optional<std::int64_t>& value) {
    if (value) {
        bind_int64(index, *value);
    } else {
        bind_null(index);
    }
}

void Statement::bind_optional_text(int index, const std::optional<std::string>& value) {
    if (value) {
        bind_text(index, *value);
    } else {
        bind_null(index);
    }
}

Result<bool> Statement::step() {
    if (bind_error_) return *bind_error_;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_error(sqlite3_db_handle(stmt_), describe_sql("", sqlite3_sql(stmt_)));
}

Result<void> Statement::run() {
    return each([](const Statement&) {});
}

void Statement::reset() noexcept {
    // The error of the last step, if any, was returned by step() already.
    sqlite3_reset(stmt_);
    bind_error_.reset();
}

std::int64_t Statement::column_int64(int index) const {
    return sqlite3_column_int64(stmt_, index);
}

std::string Statement::column_text(int index) const {
    const auto* text = sqlite3_column_text(stmt_, index);
    if (text == nullptr) {
        // NULL means either an SQL NULL or that SQLite ran out of memory
        // converting the value; std::string reports the latter the same way.
        if (sqlite3_column_type(stmt_, index) != SQLITE_NULL) throw std::bad_alloc();
        return {};
    }
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

bool Statement::column_is_null(int index) const {
    return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

std::optional<std::int64_t> Statement::column_optional_int64(int index) const {
    if (column_is_null(index)) return std::nullopt;
    return column_int64(index);
}

std::optional<std::string> Statement::column_optional_text(int index) const {
    if (column_is_null(index)) return std::nullopt;
    return column_text(index);
}

// ---- Database ----

void Database::Closer::operator()(sqlite3* db) const noexcept {
    // close_v2: cannot fail with SQLITE_BUSY; the cache is finalized first.
    sqlite3_close_v2(db);
}

void Database::Finalizer::operator()(sqlite3_stmt* stmt) const noexcept {
    sqlite3_finalize(stmt);
}

Database::Database(std::unique_ptr<sqlite3, Closer> db, std::string path)
    : db_(std::move(db)), path_(std::move(path)) {}

Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Error Database::error(std::string_view what) const {
    return sqlite_error(db_.get(), what);
}

Result<Database> Database::open(const std::string& path, OpenMode mode) {
    // SQLite opens by name and would wait forever on a FIFO (and read a
    // device): look at what is there first. Its -wal and -shm companions
    // are opened by name too. A missing file keeps SQLite's own answer.
    for (const std::string& p : {path, path + "-wal", path + "-shm"}) {
        if (auto r = check_regular_or_missing(p); !r)
            return Error{Errc::io_error, p + ": " + r.error().message};
    }
    const bool reader = mode == OpenMode::read_only;
    int flags = reader ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    flags |= SQLITE_OPEN_NOMUTEX;  // one thread per connection
    if (mode == OpenMode::create_if_missing) flags |= SQLITE_OPEN_CREATE;
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    std::unique_ptr<sqlite3, Closer> handle(raw);  // SQLite allocates one even on failure
    if (rc != SQLITE_OK) return sqlite_error(handle.get(), "open " + path);
    if (reader) {
        if (auto r = set_reader_pragmas(handle.get(), path); !r) return std::move(r).error();
        return Database(std::move(handle), path);
    }

    if (sqlite3_busy_timeout(handle.get(), 5000) != SQLITE_OK) {
        return sqlite_error(handle.get(), "busy_timeout on " + path);
    }
    // WAL can be refused (a read-only directory, a file system without shared
    // memory): SQLite then answers with the mode it kept, so check the answer.
    auto journal = query_text(handle.get(), "PRAGMA journal_mode=WAL");
    if (!journal) return std::move(journal).error();
    if (*journal != "wal") {
        return Error{Errc::database_error, "cannot use WAL journal mode for " + path +
                                               " (SQLite kept '" + *journal + "')"};
    }
    // synchronous=FULL: an fsync per commit costs nothing at ~10 writes a
    // minute and keeps every acknowledged change across a power loss.
    // cache_size: 32 MiB (the default is 2) holds the ~15 MiB of pages a batch
    // of 10^5 queued sessions touches, so it is not spilled mid-transaction.
    if (auto r = exec_raw(handle.get(),
                          "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                          "PRAGMA cache_size=-32768");
        !r) {
        return std::move(r).error();
    }
    // foreign_keys is silently ignored inside a transaction or in a build
    // without them; read it back rather than trust it.
    auto fk = query_text(handle.get(), "PRAGMA foreign_keys");
    if (!fk) return std::move(fk).error();
    if (*fk != "1") return Error{Errc::database_error, "cannot enable foreign keys on " + path};
    return Database(std::move(handle), path);
}

Result<void> Database::exec(const std::string& sql) {
    return exec_raw(db_.get(), sql.c_str());
}

Result<Statement> Database::prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it == cache_.end()) {
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &raw, &tail);
        std::unique_ptr<sqlite3_stmt, Finalizer> stmt(raw);
        if (rc != SQLITE_OK) return error(describe_sql("prepare ", sql));
        if (stmt == nullptr) {
            return Error{Errc::database_error, describe_sql("prepare: no statement in ", sql)};
        }
        const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
        if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
            return Error{Errc::database_error,
                         describe_sql("prepare: more than one statement in ", sql)};
        }
        auto entry = std::make_unique<Cached>();
        entry->stmt = std::move(stmt);
        it = cache_.emplace(std::string(sql), std::move(entry)).first;
    }
    Cached& entry = *it->second;
    if (entry.in_use) {
        return Error{Errc::database_error, describe_sql("statement already in use (a bug): ", sql)};
    }
    entry.in_use = true;
    return Statement(entry.stmt.get(), &entry.in_use);
}

Result<std::string> Database::pragma(std::string_view name) {
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != name.npos) {
        return Error{Errc::invalid_input, "not a pragma name: " + std::string(name)};
    }
    return query_text(db_.get(), "PRAGMA " + std::string(name));
}

std::int64_t Database::last_insert_rowid() const noexcept {
    return sqlite3_last_insert_rowid(db_.get());
}

int Database::changes() const noexcept {
    return sqlite3_changes(db_.get());
}

// ---- Transaction ----

Result<Transaction> Transaction::begin(Database& db) {
    if (auto r = exec_raw(db.db_.get(), "BEGIN IMMEDIATE"); !r) return std::move(r).error();
    return Transaction(db.db_.get());
}

Result<Transaction> Transaction::begin_read(Database& db) {
    if (auto r = exec_raw(db.db_.get(), "BEGIN DEFERRED"); !r) return std::move(r).error();
    return Transaction(db.db_.get());
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
    // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll back on their own;
    // only an open transaction needs the ROLLBACK. A failing ROLLBACK leaves
    // nothing to do here: SQLite rolls back a hot journal on next open.
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

Result<void> Transaction::commit() {
    assert(db_ != nullptr);
    if (auto r = exec_raw(db_, "COMMIT"); !r) return std::move(r).error();
    db_ = nullptr;
    return ok();
}

}  // namespace lrsched::store
