// Column decoders shared by the store's own .cpp files (the daemon's Store and
// the read-only Report): the text columns that hold an enum. Internal to
// store/: nothing outside includes it. Called once per row read, so they stay
// small and inline.
#pragma once

#include "common/result.hpp"
#include "sessions/session_state.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <string>
#include <string_view>

namespace lrsched::store {

// The session state in `column`; an unknown name is an error that says what
// was being read ("session 12", "run 3").
inline Result<SessionState> read_state(const Statement& s, int column, std::string_view what) {
    const std::string name = s.column_text(column);
    if (auto state = sessions::parse_state(name)) return *state;
    return Error{Errc::database_error,
                 std::string(what) + " has unknown session state '" + name + "'"};
}

// The columns read_session_row and read_artifact_row decode, in their order.
inline constexpr std::string_view kSelectSessionSql =
    "SELECT id, run_id, machine_id, computer_dns_name, looks_offline, state, attempt, "
    "submissions, action_id, not_before, exit_code, created_at, updated_at, last_error, "
    "submitted_at FROM sessions";
Result<SessionRow> read_session_row(const Statement& s);  // store_sessions.cpp

inline constexpr std::string_view kSelectArtifactSql =
    "SELECT id, session_id, action_id, command_index, command_type, remote, file, bytes, sha256, "
    "downloaded_at, action_status FROM artifacts";
ArtifactRow read_artifact_row(const Statement& s);  // store.cpp

inline Result<RunTrigger> parse_trigger(std::string_view name) {
    for (const RunTrigger t :
         {RunTrigger::first_load, RunTrigger::cron, RunTrigger::catch_up, RunTrigger::manual}) {
        if (to_string(t) == name) return t;
    }
    return Error{Errc::database_error, "run with unknown trigger '" + std::string(name) + "'"};
}

}  // namespace lrsched::store
