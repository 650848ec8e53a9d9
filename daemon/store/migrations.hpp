// Schema migrations: schema/NNN_name.sql files, embedded into the binary at
// build time (cmake/embed_schema.cmake) and applied in order, each in its own
// transaction, tracked by PRAGMA user_version. Runs once per start.
#pragma once

#include "common/result.hpp"

#include <vector>

namespace lrsched::store {

class Database;

struct Migration {
    int version;       // NNN of the file name; strictly increasing from 1
    const char* name;  // the file name, for messages
    const char* sql;
};

// The migrations compiled into this binary, in order.
const std::vector<Migration>& embedded_migrations();

// The database's PRAGMA user_version (its schema version; 0 when new).
Result<int> user_version(Database& db);

// Brings `db` up to the newest of `migrations` and returns the resulting
// schema version. Each migration whose version is above the database's
// user_version runs in its own BEGIN IMMEDIATE transaction that also sets
// user_version, so a failing one leaves the database at the version before it.
// Refused: a list not numbered 1, 2, 3, ... (Errc::invalid_input), and a
// database newer than the newest migration known (Errc::schema_mismatch),
// which an older binary must not touch.
Result<int> apply_migrations(Database& db, const std::vector<Migration>& migrations);

}  // namespace lrsched::store
