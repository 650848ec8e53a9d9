// Store and Report: what closing a run reads and writes (schema/007), and
// the reads behind `lrsched results`, `diff` and `stack`. A run's contents
// are read in one statement per table (its sessions, then their artifacts by
// the sessions_by_run_state and artifacts_by_session indexes): up to 10^5
// sessions and 2 x 10^5 artifacts, once per close or per command. The audit
// log (audit_events) is append-only, like session_events.
#include "store/migrations.hpp"
#include "store/report.hpp"
#include "store/rows.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <array>
#include <utility>

namespace lrsched::store {
namespace {

constexpr std::array kAuditNames{"run_digest", "hook", "evidence_removed"};

// The run's row and its job's name; not_found without it.
Result<RunContents> read_run(Database& db, std::int64_t run_id) {
    auto s = db.prepare(
        "SELECT r.id, j.name, r.definition, r.created_at, r.finished_at, r.closed_at, "
        "r.evidence_removed_at, r.chain_tail, r.digest FROM runs r JOIN jobs j ON j.id = r.job_id "
        "WHERE r.id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    auto row = s->first([](const Statement& r) {
        RunContents c;
        c.id = r.column_int64(0);
        c.job = r.column_text(1);
        c.definition = r.column_text(2);
        c.created_at = r.column_int64(3);
        c.finished_at = r.column_optional_int64(4);
        c.closed_at = r.column_optional_int64(5);
        c.evidence_removed_at = r.column_optional_int64(6);
        c.chain_tail = r.column_optional_text(7);
        c.digest = r.column_optional_text(8);
        return c;
    });
    if (!row) return std::move(row).error();
    if (!*row) return Error{Errc::not_found, "no run " + std::to_string(run_id)};
    return std::move(**row);
}

Result<RunContents> read_contents(Database& db, std::int64_t run_id) {
    auto run = read_run(db, run_id);
    if (!run) return run;
    auto s = db.prepare(std::string(kSelectSessionSql) + " WHERE run_id = ?1 ORDER BY id");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    auto sessions = s->each([&](const Statement& row) -> Result<void> {
        auto session = read_session_row(row);
        if (!session) return std::move(session).error();
        run->sessions.push_back(std::move(*session));
        return ok();
    });
    if (!sessions) return std::move(sessions).error();
    auto a = db.prepare(std::string(kSelectArtifactSql) +
                        " WHERE session_id IN (SELECT id FROM sessions WHERE run_id = ?1) "
                        "ORDER BY id");
    if (!a) return std::move(a).error();
    a->bind_all(run_id);
    auto artifacts =
        a->each([&](const Statement& row) { run->artifacts.push_back(read_artifact_row(row)); });
    if (!artifacts) return std::move(artifacts).error();
    return run;
}

Result<std::vector<RunBrief>> read_runs_of(Database& db, std::string_view job) {
    auto j = db.prepare("SELECT id FROM jobs WHERE name = ?1");
    if (!j) return std::move(j).error();
    j->bind_all(job);
    auto job_id = j->first([](const Statement& row) { return row.column_int64(0); });
    if (!job_id) return std::move(job_id).error();
    if (!*job_id) return Error{Errc::not_found, "no job named '" + std::string(job) + "'"};
    auto s = db.prepare(
        "SELECT id, created_at, finished_at, closed_at, evidence_removed_at, digest FROM runs "
        "WHERE job_id = ?1 ORDER BY id DESC");
    if (!s) return std::move(s).error();
    s->bind_all(**job_id);
    std::vector<RunBrief> out;
    auto read = s->each([&](const Statement& row) {
        RunBrief b;
        b.id = row.column_int64(0);
        b.created_at = row.column_int64(1);
        b.finished_at = row.column_optional_int64(2);
        b.closed_at = row.column_optional_int64(3);
        b.evidence_removed_at = row.column_optional_int64(4);
        b.digest = row.column_optional_text(5);
        out.push_back(std::move(b));
    });
    if (!read) return std::move(read).error();
    return out;
}

Result<void> insert_audit(Database& db,
                          std::int64_t run_id,
                          AuditEvent event,
                          const std::string& detail,
                          std::int64_t now_ms) {
    auto s = db.prepare(
        "INSERT INTO audit_events (at, job, run_id, event, detail) "
        "SELECT ?2, j.name, r.id, ?3, ?4 FROM runs r JOIN jobs j ON j.id = r.job_id "
        "WHERE r.id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id, now_ms, std::string_view(kAuditNames[static_cast<std::size_t>(event)]),
                detail);
    return s->run();
}

// Migration 7 made what these reads need.
Result<void> check_closing_schema(Database& db) {
    auto version = user_version(db);
    if (!version) return std::move(version).error();
    if (*version < 7)
        return Error{Errc::schema_mismatch,
                     db.path() + " has schema version " + std::to_string(*version) +
                         ", older than results need (7): start the daemon once to bring it up "
                         "to date"};
    return ok();
}

}  // namespace

Result<std::vector<std::int64_t>> Store::runs_to_close() {
    auto s = db_->prepare(
        "SELECT id FROM runs WHERE finished_at IS NOT NULL AND "
        "(closed_at IS NULL OR hooks_done_at IS NULL) ORDER BY id");
    if (!s) return std::move(s).error();
    std::vector<std::int64_t> out;
    auto read = s->each([&](const Statement& row) { out.push_back(row.column_int64(0)); });
    if (!read) return std::move(read).error();
    return out;
}

Result<RunContents> Store::run_contents(std::int64_t run_id) {
    return read_contents(*db_, run_id);
}

Result<void> Store::close_run(std::int64_t run_id, const std::string& digest, std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare(
            "UPDATE runs SET chain_tail = ?2, digest = ?2, closed_at = ?3 WHERE id = ?1 AND "
            "closed_at IS NULL");
        if (!s) return std::move(s).error();
        s->bind_all(run_id, digest, now_ms);
        if (auto r = s->run(); !r) return r;
        if (db_->changes() == 0) return ok();  // closed already
        return insert_audit(*db_, run_id, AuditEvent::run_digest,
                            R"({"digest":")" + digest + R"(","file":"manifest.jsonl"})", now_ms);
    });
}

Result<void> Store::set_hooks_done(std::int64_t run_id, std::int64_t now_ms) {
    auto s =
        db_->prepare("UPDATE runs SET hooks_done_at = ?2 WHERE id = ?1 AND hooks_done_at IS NULL");
    if (!s) return std::move(s).error();
    s->bind_all(run_id, now_ms);
    return s->run();
}

Result<void> Store::add_audit(std::int64_t run_id,
                              AuditEvent event,
                              const std::string& detail,
                              std::int64_t now_ms) {
    return insert_audit(*db_, run_id, event, detail, now_ms);
}

Result<std::vector<AuditRow>> Store::audit_of_run(std::int64_t run_id) {
    auto s = db_->prepare(
        "SELECT at, job, run_id, event, detail FROM audit_events WHERE run_id = ?1 ORDER BY id");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    std::vector<AuditRow> out;
    auto read = s->each([&](const Statement& row) {
        out.push_back({row.column_int64(0), row.column_text(1), row.column_int64(2),
                       row.column_text(3), row.column_text(4)});
    });
    if (!read) return std::move(read).error();
    return out;
}

Result<std::vector<RunBrief>> Store::runs_of_job(std::string_view job) {
    return read_runs_of(*db_, job);
}

Result<void> Store::mark_evidence_removed(std::int64_t run_id,
                                          const std::string& detail,
                                          std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare(
            "UPDATE runs SET evidence_removed_at = ?2 WHERE id = ?1 AND evidence_removed_at IS "
            "NULL");
        if (!s) return std::move(s).error();
        s->bind_all(run_id, now_ms);
        if (auto r = s->run(); !r) return r;
        return insert_audit(*db_, run_id, AuditEvent::evidence_removed, detail, now_ms);
    });
}

Result<std::vector<RunBrief>> Report::runs_of(std::string_view job) {
    if (auto r = check_closing_schema(*db_); !r) return std::move(r).error();
    auto tx = Transaction::begin_read(*db_);
    if (!tx) return std::move(tx).error();
    auto out = read_runs_of(*db_, job);
    if (auto c = tx->commit(); !c && out) return std::move(c).error();
    return out;
}

Result<RunContents> Report::run_contents(std::string_view job, std::int64_t run_id) {
    if (auto r = check_closing_schema(*db_); !r) return std::move(r).error();
    auto tx = Transaction::begin_read(*db_);
    if (!tx) return std::move(tx).error();
    auto out = read_contents(*db_, run_id);
    const bool other_job = out && out->job != job;
    if (other_job || (!out && out.error().code == make_error_code(Errc::not_found)))
        out = Error{Errc::not_found,
                    "job '" + std::string(job) + "' has no run " + std::to_string(run_id)};
    if (auto c = tx->commit(); !c && out) return std::move(c).error();
    return out;
}

}  // namespace lrsched::store
