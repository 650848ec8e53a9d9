// Schema migrations: schema/NNN_name.sql files, embedded into the binary at
// build time (cmake/embed_schema.cmake) and applied in order, each in its own
// transaction, tracked by PRAGMA user_version.
#pragma once

#include <vector>

namespace lrsched::store {

struct Migration {
    int version;       // NNN of the file name; strictly increasing from 1
    const char* name;  // the file name, for messages
    const char* sql;
};

// The migrations compiled into this binary, in order.
const std::vector<Migration>& embedded_migrations();

}  // namespace lrsched::store
