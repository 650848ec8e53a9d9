// Applies schema migrations once per start; see migrations.hpp. A handful of
// migrations over the product's life, each run exactly once per database.
#include "store/migrations.hpp"

#include "store/sqlite.hpp"

#include <charconv>
#include <string>
#include <utility>

namespace lrsched::store {
namespace {

Result<void> check_numbering(const std::vector<Migration>& migrations) {
    for (std::size_t i = 0; i < migrations.size(); ++i) {
        const auto expected = static_cast<int>(i) + 1;
        if (migrations[i].version != expected) {
            return Error{Errc::invalid_input,
                         "schema migrations must be numbered 1, 2, 3, ...: expected version " +
                             std::to_string(expected) + ", found " +
                             std::to_string(migrations[i].version) + " (" + migrations[i].name +
                             ")"};
        }
    }
    return ok();
}

Error newer_than_known(const Database& db, int version, int newest) {
    return Error{Errc::schema_mismatch,
                 db.path() + " has schema version " + std::to_string(version) +
                     ", newer than this lrsched knows (" + std::to_string(newest) +
                     "); it was written by a newer lrsched, which it needs"};
}

Result<void> apply_one(Database& db, const Migration& m) {
    const auto fail = [&m](const Error& e) {
        return Error{e.code, "schema migration " + std::string(m.name) + ": " + e.message};
    };
    auto tx = Transaction::begin(db);
    if (!tx) return fail(tx.error());
    // Read again under the write lock: another process opening the same file
    // may have applied this migration since we first looked.
    auto current = user_version(db);
    if (!current) return fail(current.error());
    if (*current >= m.version) return ok();
    if (auto r = db.exec(m.sql); !r) return fail(r.error());
    // PRAGMA takes no parameters; the version is an int we produced.
    if (auto r = db.exec("PRAGMA user_version = " + std::to_string(m.version)); !r) {
        return fail(r.error());
    }
    if (auto r = tx->commit(); !r) return fail(r.error());
    return ok();
}

}  // namespace

Result<int> user_version(Database& db) {
    auto text = db.pragma("user_version");
    if (!text) return std::move(text).error();
    int version = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), version);
    if (ec != std::errc{} || end != text->data() + text->size()) {
        return Error{Errc::database_error, "unreadable user_version '" + *text + "'"};
    }
    return version;
}

Result<int> apply_migrations(Database& db, const std::vector<Migration>& migrations) {
    if (auto r = check_numbering(migrations); !r) return std::move(r).error();
    const int newest = static_cast<int>(migrations.size());

    auto current = user_version(db);
    if (!current) return std::move(current).error();
    if (*current > newest) return newer_than_known(db, *current, newest);
    for (const Migration& m : migrations) {
        if (m.version <= *current) continue;
        if (auto r = apply_one(db, m); !r) return std::move(r).error();
    }
    auto result = user_version(db);
    // A newer lrsched may have migrated the file while we were at it.
    if (result && *result > newest) return newer_than_known(db, *result, newest);
    return result;
}

}  // namespace lrsched::store
