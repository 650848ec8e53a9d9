// Store: sessions and their append-only event log. The hot path of the store:
// ~10 state changes a minute, each one transaction of a read, an UPDATE and
// an INSERT; plus queue_sessions, up to 10^5 rows (and as many events) in one
// transaction: one prepared INSERT reused for every row, then one INSERT ...
// SELECT for all their creation events (about 20% faster than a second
// per-row INSERT; ~0.8 s for 10^5 sessions in a release build).
#include "sessions/tag.hpp"
#include "store/rows.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <utility>

namespace lrsched::store {
namespace {

using sessions::transition_allowed;

constexpr std::string_view kSelectSession = kSelectSessionSql;

constexpr std::string_view kInsertEvent =
    "INSERT INTO session_events (session_id, at, from_state, to_state, attempt, action_id, "
    "detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

Result<SessionRow> read_session(const Statement& s) {
    return read_session_row(s);
}

}  // namespace

Result<SessionRow> read_session_row(const Statement& s) {
    SessionRow r;
    r.id = s.column_int64(0);
    auto state = read_state(s, 5, "session " + std::to_string(r.id));
    if (!state) return std::move(state).error();
    r.run_id = s.column_int64(1);
    r.machine_id = s.column_text(2);
    r.computer_dns_name = s.column_optional_text(3);
    r.looks_offline = s.column_int64(4) != 0;
    r.state = *state;
    r.attempt = s.column_int64(6);
    r.submissions = s.column_int64(7);
    r.action_id = s.column_optional_text(8);
    r.not_before = s.column_optional_int64(9);
    r.exit_code = s.column_optional_int64(10);
    r.created_at = s.column_int64(11);
    r.updated_at = s.column_int64(12);
    r.last_error = s.column_optional_text(13);
    r.submitted_at = s.column_optional_int64(14);
    return r;
}

namespace {

// Steps `s` to the end, collecting one SessionRow per row.
Result<std::vector<SessionRow>> read_sessions(Statement& s) {
    std::vector<SessionRow> out;
    auto read = s.each([&](const Statement& row) -> Result<void> {
        auto session = read_session(row);
        if (!session) return std::move(session).error();
        out.push_back(std::move(*session));
        return ok();
    });
    if (!read) return std::move(read).error();
    return out;
}

// The event's detail column: the caller's free text and the error, if any.
std::optional<std::string> event_detail(const TransitionDetail& d) {
    std::string text = d.detail;
    if (d.error) text += (text.empty() ? "error: " : "; error: ") + *d.error;
    if (text.empty()) return std::nullopt;
    return text;
}

// The row after a legal move from `current` to `to`; see TransitionDetail.
SessionRow apply(const SessionRow& current,
                 SessionState to,
                 const TransitionDetail& d,
                 std::int64_t now_ms) {
    SessionRow next = current;
    next.state = to;
    next.updated_at = now_ms;
    if (to == SessionState::submitting) {
        ++next.submissions;
        next.submitted_at = now_ms;
    }
    if (to == SessionState::queued) {
        const bool retry =
            current.state == SessionState::failed || current.state == SessionState::expired;
        if (retry) ++next.attempt;
        next.action_id.reset();
        next.exit_code.reset();
    }
    if (d.action_id) next.action_id = d.action_id;
    if (d.exit_code) next.exit_code = d.exit_code;
    if (d.error) next.last_error = d.error;
    next.not_before = d.not_before;
    return next;
}

}  // namespace

Result<std::size_t> Store::queue_sessions(std::int64_t run_id,
                                          const std::vector<NewSession>& machines,
                                          std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<std::size_t> {
        // SQLite gives a new row the rowid one above the largest in the table
        // (it picks at random only past 2^63-1), so the sessions made by this
        // transaction are exactly those above this id.
        std::int64_t last_before = 0;
        {
            auto max = db_->prepare("SELECT coalesce(max(id), 0) FROM sessions");
            if (!max) return std::move(max).error();
            // An aggregate without GROUP BY always gives its one row.
            auto id = max->first([](const Statement& row) { return row.column_int64(0); });
            if (!id) return std::move(id).error();
            last_before = id->value_or(0);
        }
        auto insert = db_->prepare(
            "INSERT INTO sessions (run_id, machine_id, computer_dns_name, looks_offline, state, "
            "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5) "
            "ON CONFLICT (run_id, machine_id) DO NOTHING");
        if (!insert) return std::move(insert).error();
        insert->bind_int64(1, run_id);  // bound once for the whole batch
        insert->bind_int64(5, now_ms);
        std::size_t created = 0;
        for (const NewSession& m : machines) {
            insert->bind_text(2, m.machine_id);
            insert->bind_optional_text(3, m.computer_dns_name);
            insert->bind_int64(4, m.looks_offline ? 1 : 0);
            if (auto r = insert->run(); !r) return std::move(r).error();
            insert->reset();
            created += static_cast<std::size_t>(db_->changes());  // 0: already in this run
        }
        // One creation event per new session, in one statement.
        auto events = db_->prepare(
            "INSERT INTO session_events (session_id, at, from_state, to_state, attempt, detail) "
            "SELECT id, ?2, NULL, 'queued', 1, CASE looks_offline WHEN 1 THEN "
            "'machine looks offline' ELSE 'machine looks online' END "
            "FROM sessions WHERE id > ?1 ORDER BY id");
        if (!events) return std::move(events).error();
        events->bind_all(last_before, now_ms);
        if (auto r = events->run(); !r) return std::move(r).error();
        if (static_cast<std::size_t>(db_->changes()) != created) {
            return Error{Errc::database_error,
                         "queue_sessions: " + std::to_string(created) + " sessions created but " +
                             std::to_string(db_->changes()) + " creation events (a bug)"};
        }
        return created;
    });
}

Result<SessionRow> Store::transition(std::int64_t session_id,
                                     SessionState to,
                                     const TransitionDetail& d,
                                     std::int64_t now_ms) {
    return in_transaction(*db_, [&]() { return transition_locked(session_id, to, d, now_ms); });
}

Result<SessionRow> Store::transition_locked(std::int64_t session_id,
                                            SessionState to,
                                            const TransitionDetail& d,
                                            std::int64_t now_ms) {
    {
        // Read under the write lock (BEGIN IMMEDIATE), so the state checked
        // is the state replaced.
        auto found = find_session(session_id);
        if (!found) return std::move(found).error();
        if (!*found) {
            return Error{Errc::not_found, "session " + std::to_string(session_id) + " not found"};
        }
        const SessionRow& current = **found;
        if (!transition_allowed(current.state, to)) {
            return Error{Errc::illegal_transition, "session " + std::to_string(session_id) + ": " +
                                                       std::string(to_string(current.state)) +
                                                       " -> " + std::string(to_string(to)) +
                                                       " is not a legal transition"};
        }
        SessionRow next = apply(current, to, d, now_ms);

        auto update = db_->prepare(
            "UPDATE sessions SET state = ?2, attempt = ?3, submissions = ?4, action_id = ?5, "
            "not_before = ?6, exit_code = ?7, last_error = ?8, updated_at = ?9, "
            "submitted_at = ?10 WHERE id = ?1");
        if (!update) return std::move(update).error();
        update->bind_all(next.id, to_string(next.state), next.attempt, next.submissions,
                         next.action_id, next.not_before, next.exit_code, next.last_error,
                         next.updated_at, next.submitted_at);
        if (auto r = update->run(); !r) return std::move(r).error();

        auto event = db_->prepare(kInsertEvent);
        if (!event) return std::move(event).error();
        event->bind_all(next.id, now_ms, to_string(current.state), to_string(next.state),
                        next.attempt, next.action_id, event_detail(d));
        if (auto r = event->run(); !r) return std::move(r).error();
        return next;
    }
}

Result<std::optional<SessionRow>> Store::find_session(std::int64_t session_id) {
    auto s = db_->prepare(std::string(kSelectSession) + " WHERE id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(session_id);
    auto rows = read_sessions(*s);
    if (!rows) return std::move(rows).error();
    if (rows->empty()) return std::optional<SessionRow>{};
    return std::optional<SessionRow>{std::move(rows->front())};
}

Result<std::vector<SessionRow>> Store::sessions_of_run(std::int64_t run_id,
                                                       std::optional<SessionState> filter) {
    if (!filter) {
        auto s = db_->prepare(std::string(kSelectSession) + " WHERE run_id = ?1 ORDER BY id");
        if (!s) return std::move(s).error();
        s->bind_all(run_id);
        return read_sessions(*s);
    }
    auto s =
        db_->prepare(std::string(kSelectSession) + " WHERE run_id = ?1 AND state = ?2 ORDER BY id");
    if (!s) return std::move(s).error();
    s->bind_all(run_id, to_string(*filter));
    return read_sessions(*s);
}

Result<std::map<SessionState, std::int64_t>> Store::count_by_state(std::int64_t run_id) {
    std::map<SessionState, std::int64_t> counts;
    for (const SessionState state : sessions::kAllStates)
        counts[state] = 0;
    auto s = db_->prepare("SELECT state, count(*) FROM sessions WHERE run_id = ?1 GROUP BY state");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    const std::string what = "run " + std::to_string(run_id);
    auto read = s->each([&](const Statement& row) -> Result<void> {
        auto state = read_state(row, 0, what);
        if (!state) return std::move(state).error();
        counts[*state] = row.column_int64(1);
        return ok();
    });
    if (!read) return std::move(read).error();
    return counts;
}

Result<std::optional<std::int64_t>> Store::entered_state_at(std::int64_t session_id) {
    auto s = db_->prepare(
        "SELECT max(e.at) FROM sessions s JOIN session_events e ON e.session_id = s.id "
        "AND e.to_state = s.state WHERE s.id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(session_id);
    auto at = s->first([](const Statement& row) { return row.column_optional_int64(0); });
    if (!at) return std::move(at).error();
    return at->value_or(std::nullopt);
}

Result<std::vector<EventRow>> Store::events_of(std::int64_t session_id) {
    auto s = db_->prepare(
        "SELECT id, session_id, at, from_state, to_state, attempt, action_id, detail "
        "FROM session_events WHERE session_id = ?1 ORDER BY id");
    if (!s) return std::move(s).error();
    s->bind_all(session_id);
    std::vector<EventRow> out;
    auto read = s->each([&](const Statement& row) -> Result<void> {
        EventRow e;
        e.id = row.column_int64(0);
        e.session_id = row.column_int64(1);
        e.at = row.column_int64(2);
        const std::string what = "event " + std::to_string(e.id);
        if (!row.column_is_null(3)) {
            auto from = read_state(row, 3, what);
            if (!from) return std::move(from).error();
            e.from_state = *from;
        }
        auto to = read_state(row, 4, what);
        if (!to) return std::move(to).error();
        e.to_state = *to;
        e.attempt = row.column_int64(5);
        e.action_id = row.column_optional_text(6);
        e.detail = row.column_optional_text(7);
        out.push_back(std::move(e));
        return ok();
    });
    if (!read) return std::move(read).error();
    return out;
}

std::string Store::correlation_tag(const SessionRow& session) const {
    return sessions::correlation_tag(install_id_, session.id, session.submissions);
}

Result<std::vector<std::int64_t>> Store::runs_with_queued() {
    // DISTINCT over the partial index: one entry per run, not per session.
    auto s =
        db_->prepare("SELECT DISTINCT run_id FROM sessions WHERE state = 'queued' ORDER BY run_id");
    if (!s) return std::move(s).error();
    std::vector<std::int64_t> out;
    auto read = s->each([&](const Statement& row) { out.push_back(row.column_int64(0)); });
    if (!read) return std::move(read).error();
    return out;
}

Result<bool> Store::has_waiting_offline(std::int64_t run_id) {
    auto s = db_->prepare(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE state = 'queued' AND run_id = ?1 AND "
        "looks_offline = 1) OR EXISTS (SELECT 1 FROM sessions WHERE state = 'busy' AND "
        "run_id = ?1 AND looks_offline = 1)");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    auto any = s->first([](const Statement& row) { return row.column_int64(0) != 0; });
    if (!any) return std::move(any).error();
    return any->value_or(false);
}

Result<std::vector<Store::OfflineChange>> Store::set_waiting_offline(
    const std::vector<std::int64_t>& run_ids, const std::set<std::string>& offline_now) {
    return in_transaction(*db_, [&]() -> Result<std::vector<OfflineChange>> {
        // The machines as a temporary table: a fleet's offline share may be
        // 10^4 ids, too many for parameters.
        if (auto r = db_->exec("CREATE TEMP TABLE IF NOT EXISTS offline_now "
                               "(machine_id TEXT PRIMARY KEY) WITHOUT ROWID");
            !r)
            return std::move(r).error();
        if (auto r = db_->exec("DELETE FROM temp.offline_now"); !r) return std::move(r).error();
        auto insert = db_->prepare("INSERT OR IGNORE INTO temp.offline_now VALUES (?1)");
        if (!insert) return std::move(insert).error();
        for (const std::string& id : offline_now) {
            insert->bind_text(1, id);
            if (auto r = insert->run(); !r) return std::move(r).error();
            insert->reset();
        }
        auto update = db_->prepare(
            "UPDATE sessions SET looks_offline = (machine_id IN temp.offline_now) "
            "WHERE run_id = ?1 AND state IN ('queued', 'busy', 'submitting', 'pending') AND "
            "looks_offline <> (machine_id IN temp.offline_now) "
            "RETURNING id, state, looks_offline");
        if (!update) return std::move(update).error();
        std::vector<OfflineChange> changed;
        for (const std::int64_t run_id : run_ids) {
            update->bind_int64(1, run_id);
            auto read = update->each([&](const Statement& row) -> Result<void> {
                auto state = read_state(row, 1, "session " + std::to_string(row.column_int64(0)));
                if (!state) return std::move(state).error();
                changed.push_back({row.column_int64(0), *state, row.column_int64(2) != 0});
                return ok();
            });
            if (!read) return std::move(read).error();
            update->reset();
        }
        if (auto r = db_->exec("DELETE FROM temp.offline_now"); !r) return std::move(r).error();
        return changed;
    });
}

Result<std::optional<SessionRow>> Store::oldest_queued(std::int64_t run_id, bool looks_offline) {
    auto s = db_->prepare(
        std::string(kSelectSession) +
        " WHERE state = 'queued' AND run_id = ?1 AND looks_offline = ?2 ORDER BY id LIMIT 1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id, looks_offline);
    return s->first(read_session);
}

Result<std::optional<std::int64_t>> Store::next_busy_wake() {
    // A seek on sessions_dispatch (state, not_before).
    auto s = db_->prepare("SELECT min(not_before) FROM sessions WHERE state = 'busy'");
    if (!s) return std::move(s).error();
    // An aggregate without GROUP BY always gives its one row.
    auto wake = s->first([](const Statement& row) { return row.column_optional_int64(0); });
    if (!wake) return std::move(wake).error();
    return wake->value_or(std::nullopt);
}

}  // namespace lrsched::store

namespace lrsched::store {

Result<void> Store::set_session_error(std::int64_t session_id,
                                      const std::string& error,
                                      std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare("UPDATE sessions SET last_error = ?2, updated_at = ?3 WHERE id = ?1");
        if (!s) return std::move(s).error();
        s->bind_all(session_id, error, now_ms);
        return s->run();
    });
}

Result<std::vector<SessionRow>> Store::busy_due(std::int64_t now_ms) {
    auto s = db_->prepare(std::string(kSelectSession) +
                          " WHERE state = 'busy' AND not_before <= ?1 ORDER BY not_before, id");
    if (!s) return std::move(s).error();
    s->bind_all(now_ms);
    return read_sessions(*s);
}

Result<std::int64_t> Store::end_waiting(std::int64_t run_id,
                                        SessionState to,
                                        const std::string& detail,
                                        std::int64_t now_ms,
                                        const std::optional<std::string>& machine_id) {
    if (!transition_allowed(SessionState::queued, to) ||
        !transition_allowed(SessionState::busy, to))
        return Error{Errc::illegal_transition,
                     "end_waiting: queued and busy cannot become " + std::string(to_string(to))};
    return in_transaction(*db_, [&]() -> Result<std::int64_t> {
        // Events first: they read each session's state before the UPDATE.
        auto events = db_->prepare(
            "INSERT INTO session_events (session_id, at, from_state, to_state, attempt, "
            "action_id, detail) SELECT id, ?2, state, ?3, attempt, action_id, ?4 FROM sessions "
            "WHERE run_id = ?1 AND state IN ('queued', 'busy') AND (?5 IS NULL OR machine_id = "
            "?5)");
        if (!events) return std::move(events).error();
        events->bind_all(run_id, now_ms, to_string(to), detail, machine_id);
        if (auto r = events->run(); !r) return std::move(r).error();
        auto update = db_->prepare(
            "UPDATE sessions SET state = ?3, updated_at = ?2, not_before = NULL "
            "WHERE run_id = ?1 AND state IN ('queued', 'busy') AND (?4 IS NULL OR machine_id = "
            "?4)");
        if (!update) return std::move(update).error();
        update->bind_all(run_id, now_ms, to_string(to), machine_id);
        if (auto r = update->run(); !r) return std::move(r).error();
        return static_cast<std::int64_t>(db_->changes());
    });
}

}  // namespace lrsched::store
