// Store: opening, jobs, runs and artifacts. Sessions and their event log are
// in store_sessions.cpp. Jobs and runs change a few times a day; artifacts
// once per downloaded file.
#include "store/store.hpp"

#include "store/migrations.hpp"
#include "store/rows.hpp"
#include "store/sqlite.hpp"

#include <array>
#include <utility>

namespace lrsched::store {
namespace {

constexpr std::string_view kSelectJob =
    "SELECT id, name, tenant, definition, source_path, source_sha256, loaded_at, last_error, "
    "last_error_at, paused, paused_reason, deleted_at, last_fired_at FROM jobs";

JobRow read_job(const Statement& s) {
    JobRow j;
    j.id = s.column_int64(0);
    j.name = s.column_text(1);
    j.tenant = s.column_text(2);
    j.definition = s.column_text(3);
    j.source_path = s.column_text(4);
    j.source_sha256 = s.column_text(5);
    j.loaded_at = s.column_int64(6);
    j.last_error = s.column_optional_text(7);
    j.last_error_at = s.column_optional_int64(8);
    j.paused = s.column_int64(9) != 0;
    j.paused_reason = s.column_optional_text(10);
    j.deleted_at = s.column_optional_int64(11);
    j.last_fired_at = s.column_optional_int64(12);
    return j;
}

constexpr std::array kTriggerNames{"first_load", "cron", "catch_up", "manual"};

constexpr std::string_view kSelectArtifact = kSelectArtifactSql;

ArtifactRow read_artifact(const Statement& s) {
    return read_artifact_row(s);
}

}  // namespace

ArtifactRow read_artifact_row(const Statement& s) {
    ArtifactRow a;
    a.id = s.column_int64(0);
    a.session_id = s.column_int64(1);
    a.action_id = s.column_text(2);
    a.command_index = s.column_int64(3);
    a.command_type = s.column_text(4);
    a.remote = s.column_text(5);
    a.file = s.column_text(6);
    a.bytes = s.column_int64(7);
    a.sha256 = s.column_text(8);
    a.downloaded_at = s.column_int64(9);
    a.action_status = s.column_text(10);
    return a;
}

namespace {

Error unknown_job(std::string_view name) {
    return Error{Errc::not_found, "no job named '" + std::string(name) + "'"};
}

}  // namespace

std::string_view to_string(RunTrigger trigger) noexcept {
    return kTriggerNames[static_cast<std::size_t>(trigger)];
}

Store::Store(std::unique_ptr<Database> db, std::string install_id, int schema_version)
    : db_(std::move(db)), install_id_(std::move(install_id)), schema_version_(schema_version) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Result<Store> Store::open(const std::string& path) {
    auto opened = Database::open(path, OpenMode::create_if_missing);
    if (!opened) return std::move(opened).error();
    auto db = std::make_unique<Database>(std::move(opened).value());

    auto version = apply_migrations(*db, embedded_migrations());
    if (!version) return std::move(version).error();

    std::string install_id;
    {
        auto s = db->prepare("SELECT value FROM meta WHERE key = 'install_id'");
        if (!s) return std::move(s).error();
        auto value = s->first([](const Statement& row) { return row.column_text(0); });
        if (!value) return std::move(value).error();
        if (!*value) return Error{Errc::database_error, path + " has no install_id"};
        install_id = std::move(**value);
    }
    return Store(std::move(db), std::move(install_id), *version);
}

// ---- jobs ----

Result<std::int64_t> Store::upsert_job(const JobRow& job) {
    return in_transaction(*db_, [&]() -> Result<std::int64_t> {
        auto s = db_->prepare(
            "INSERT INTO jobs (name, tenant, definition, source_path, source_sha256, loaded_at, "
            "deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
            "ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, "
            "definition = excluded.definition, source_path = excluded.source_path, "
            "source_sha256 = excluded.source_sha256, loaded_at = excluded.loaded_at, "
            "deleted_at = excluded.deleted_at "
            "RETURNING id");
        if (!s) return std::move(s).error();
        s->bind_all(job.name, job.tenant, job.definition, job.source_path, job.source_sha256,
                    job.loaded_at, job.deleted_at);
        auto id = s->first([](const Statement& row) { return row.column_int64(0); });
        if (!id) return std::move(id).error();
        if (!*id) return Error{Errc::database_error, "upsert of job '" + job.name + "' gave no id"};
        if (auto done = s->run(); !done) return std::move(done).error();
        return **id;
    });
}

Result<std::optional<JobRow>> Store::find_job(std::string_view name) {
    auto s = db_->prepare(std::string(kSelectJob) + " WHERE name = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(name);
    return s->first(read_job);
}

Result<void> Store::set_job_error(std::string_view name,
                                  std::optional<std::string> error,
                                  std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s =
            db_->prepare("UPDATE jobs SET last_error = ?2, last_error_at = ?3 WHERE name = ?1");
        if (!s) return std::move(s).error();
        const std::optional<std::int64_t> at = error ? std::optional{now_ms} : std::nullopt;
        s->bind_all(name, error, at);
        if (auto r = s->run(); !r) return r;
        if (db_->changes() == 0) return unknown_job(name);
        return ok();
    });
}

Result<void> Store::set_job_paused(std::string_view name, bool paused, std::string reason) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare("UPDATE jobs SET paused = ?2, paused_reason = ?3 WHERE name = ?1");
        if (!s) return std::move(s).error();
        const std::optional<std::string> why = paused ? std::optional{reason} : std::nullopt;
        s->bind_all(name, paused, why);
        if (auto r = s->run(); !r) return r;
        if (db_->changes() == 0) return unknown_job(name);
        return ok();
    });
}

Result<void> Store::set_job_last_fired(std::string_view name, std::int64_t at_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare("UPDATE jobs SET last_fired_at = ?2 WHERE name = ?1");
        if (!s) return std::move(s).error();
        s->bind_all(name, at_ms);
        if (auto r = s->run(); !r) return r;
        if (db_->changes() == 0) return unknown_job(name);
        return ok();
    });
}

Result<std::vector<JobRow>> Store::list_jobs() {
    auto s = db_->prepare(std::string(kSelectJob) + " ORDER BY name");
    if (!s) return std::move(s).error();
    std::vector<JobRow> jobs;
    auto read = s->each([&](const Statement& row) { jobs.push_back(read_job(row)); });
    if (!read) return std::move(read).error();
    return jobs;
}

// ---- runs ----

Result<std::optional<std::string>> Store::job_of_run(std::int64_t run_id) {
    auto s = db_->prepare(
        "SELECT jobs.name FROM runs JOIN jobs ON jobs.id = runs.job_id "
        "WHERE runs.id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    return s->first([](const Statement& row) { return row.column_text(0); });
}

Result<std::optional<std::int64_t>> Store::create_run(const NewRun& run) {
    return in_transaction(*db_, [&]() -> Result<std::optional<std::int64_t>> {
        if (run.mark_fired) {
            auto s = db_->prepare("UPDATE jobs SET last_fired_at = ?2 WHERE id = ?1");
            if (!s) return std::move(s).error();
            s->bind_all(run.job_id, *run.mark_fired);
            if (auto r = s->run(); !r) return std::move(r).error();
            if (db_->changes() == 0)
                return Error{Errc::not_found, "job " + std::to_string(run.job_id) + " not found"};
        }
        if (run.scheduled_for) {
            // The unique index would refuse it too; asking first keeps the
            // firing's record and says what happened.
            auto s = db_->prepare("SELECT 1 FROM runs WHERE job_id = ?1 AND scheduled_for = ?2");
            if (!s) return std::move(s).error();
            s->bind_all(run.job_id, *run.scheduled_for);
            auto row = s->step();
            if (!row) return std::move(row).error();
            if (*row) return std::optional<std::int64_t>{};
        }
        auto s = db_->prepare(
            "INSERT INTO runs (job_id, definition, \"trigger\", scheduled_for, created_at, "
            "deadline_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        if (!s) return std::move(s).error();
        s->bind_all(run.job_id, run.definition, to_string(run.trigger), run.scheduled_for,
                    run.created_at, run.deadline_at);
        if (auto r = s->run(); !r) return std::move(r).error();
        return std::optional<std::int64_t>{db_->last_insert_rowid()};
    });
}

namespace {

constexpr std::string_view kSelectRun =
    "SELECT runs.id, runs.job_id, runs.definition, runs.\"trigger\", runs.scheduled_for, "
    "runs.created_at, runs.deadline_at, runs.finished_at, runs.resolved_at FROM runs";

Result<RunRow> read_run(const Statement& s) {
    auto trigger = parse_trigger(s.column_text(3));
    if (!trigger) return std::move(trigger).error();
    RunRow r;
    r.id = s.column_int64(0);
    r.job_id = s.column_int64(1);
    r.definition = s.column_text(2);
    r.trigger = *trigger;
    r.scheduled_for = s.column_optional_int64(4);
    r.created_at = s.column_int64(5);
    r.deadline_at = s.column_optional_int64(6);
    r.finished_at = s.column_optional_int64(7);
    r.resolved_at = s.column_optional_int64(8);
    return r;
}

}  // namespace

Result<std::optional<RunRow>> Store::latest_run(std::int64_t job_id) {
    auto s = db_->prepare(std::string(kSelectRun) + " WHERE job_id = ?1 ORDER BY id DESC LIMIT 1");
    if (!s) return std::move(s).error();
    s->bind_all(job_id);
    return s->first(read_run);
}

Result<std::vector<ActiveRun>> Store::unfinished_runs() {
    // kSelectRun's columns, then the job's name and tenant.
    auto s = db_->prepare(
        "SELECT runs.id, runs.job_id, runs.definition, runs.\"trigger\", runs.scheduled_for, "
        "runs.created_at, runs.deadline_at, runs.finished_at, runs.resolved_at, jobs.name, "
        "jobs.tenant FROM runs JOIN jobs ON jobs.id = runs.job_id "
        "WHERE runs.finished_at IS NULL ORDER BY runs.id");
    if (!s) return std::move(s).error();
    std::vector<ActiveRun> out;
    auto read = s->each([&](const Statement& row) -> Result<void> {
        auto run = read_run(row);
        if (!run) return std::move(run).error();
        out.push_back({std::move(*run), row.column_text(9), row.column_text(10)});
        return ok();
    });
    if (!read) return std::move(read).error();
    return out;
}

Result<void> Store::mark_run_resolved(std::int64_t run_id,
                                      std::optional<std::string> unresolved_json,
                                      std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare("UPDATE runs SET resolved_at = ?2, unresolved = ?3 WHERE id = ?1");
        if (!s) return std::move(s).error();
        s->bind_all(run_id, now_ms, unresolved_json);
        return s->run();
    });
}

Result<bool> Store::finish_run_if_done(std::int64_t run_id, std::int64_t now_ms) {
    // The run digest is not frozen here: the closer (runtime/run_close.cpp)
    // first lists results.jsonl in the manifest, then records the last
    // line's hash with closed_at (close_run).
    auto s = db_->prepare(
        "UPDATE runs SET finished_at = ?2 WHERE id = ?1 "
        "AND finished_at IS NULL "
        "AND resolved_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions WHERE "
        "run_id = ?1 AND state IN ('queued', 'busy', 'submitting', 'pending', 'running', "
        "'collecting'))");
    if (!s) return std::move(s).error();
    s->bind_all(run_id, now_ms);
    if (auto r = s->run(); !r) return std::move(r).error();
    return db_->changes() != 0;
}

// ---- artifacts ----

Result<void> Store::set_chain_tail(std::int64_t run_id, const std::string& tail) {
    auto s = db_->prepare("UPDATE runs SET chain_tail = ?2 WHERE id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id, tail);
    return s->run();
}

Result<std::optional<std::string>> Store::run_digest(std::int64_t run_id) {
    auto s = db_->prepare("SELECT digest FROM runs WHERE id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    std::optional<std::string> out;
    auto r = s->each([&](const Statement& row) { out = row.column_optional_text(0); });
    if (!r) return std::move(r).error();
    return out;
}

Result<void> Store::add_artifact(const ArtifactRow& a,
                                 const std::optional<std::string>& chain_tail) {
    return in_transaction(*db_, [&]() -> Result<void> {
        if (chain_tail) {
            auto t = db_->prepare(
                "UPDATE runs SET chain_tail = ?2 WHERE id = "
                "(SELECT run_id FROM sessions WHERE id = ?1)");
            if (!t) return std::move(t).error();
            t->bind_all(a.session_id, *chain_tail);
            if (auto r = t->run(); !r) return r;
        }
        auto s = db_->prepare(
            "INSERT INTO artifacts (session_id, action_id, command_index, command_type, remote, "
            "file, bytes, sha256, downloaded_at, action_status) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        if (!s) return std::move(s).error();
        s->bind_all(a.session_id, a.action_id, a.command_index, a.command_type, a.remote, a.file,
                    a.bytes, a.sha256, a.downloaded_at, a.action_status);
        return s->run();
    });
}

Result<std::vector<ArtifactRow>> Store::artifacts_of_session(std::int64_t session_id) {
    auto s = db_->prepare(std::string(kSelectArtifact) + " WHERE session_id = ?1 ORDER BY id");
    if (!s) return std::move(s).error();
    s->bind_all(session_id);
    std::vector<ArtifactRow> out;
    auto read = s->each([&](const Statement& row) { out.push_back(read_artifact(row)); });
    if (!read) return std::move(read).error();
    return out;
}

Result<std::set<std::pair<std::string, std::int64_t>>> Store::artifact_keys_of_run(
    std::int64_t run_id) {
    auto s = db_->prepare(
        "SELECT a.action_id, a.command_index FROM sessions s JOIN artifacts a ON a.session_id = "
        "s.id WHERE s.run_id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    std::set<std::pair<std::string, std::int64_t>> out;
    auto read = s->each(
        [&](const Statement& row) { out.emplace(row.column_text(0), row.column_int64(1)); });
    if (!read) return std::move(read).error();
    return out;
}

Result<std::optional<std::int64_t>> Store::session_of_action(std::string_view action_id) {
    auto s = db_->prepare("SELECT id FROM sessions WHERE action_id = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(action_id);
    return s->first([](const Statement& row) { return row.column_int64(0); });
}

}  // namespace lrsched::store
