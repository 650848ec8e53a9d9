// Report: the read-only queries behind `lrsched status` and `lrsched
// sessions`; see report.hpp for the contract and the expected load. Every
// query here is a SELECT on a query_only connection: nothing in this file can
// write, and the statements lean on 001's indexes (runs_by_job,
// sessions_by_run_state, sessions_dispatch) so a report over 10^6 sessions
// reads only the rows it counts.
#include "store/report.hpp"

#include "store/migrations.hpp"
#include "store/report_estimates.hpp"
#include "store/rows.hpp"
#include "store/sqlite.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <type_traits>
#include <utility>

namespace lrsched::store {
namespace {

// Migration 2 made api_calls, tenants and runs.unresolved, which reports read.
constexpr int kOldestReadableSchema = 2;

// Runs `body` in one read transaction, so every figure it reads comes from
// the same snapshot; ends it (COMMIT, which for a reader only lets go of the
// snapshot) before returning.
template <typename F>
std::invoke_result_t<F&> in_read_transaction(Database& db, F&& body) {
    auto tx = Transaction::begin_read(db);
    if (!tx) return std::move(tx).error();
    auto result = std::invoke(body);
    if (!result) return result;
    if (auto committed = tx->commit(); !committed) return std::move(committed).error();
    return result;
}

Result<void> check_schema(Database& db) {
    auto current = user_version(db);
    if (!current) return std::move(current).error();
    const int version = *current;
    const int newest = static_cast<int>(embedded_migrations().size());
    if (version > newest) {
        return Error{Errc::schema_mismatch,
                     db.path() + " has schema version " + std::to_string(version) +
                         ", newer than this lrsched knows (" + std::to_string(newest) +
                         "): use the lrsched that the daemon runs"};
    }
    if (version < kOldestReadableSchema) {
        return Error{Errc::schema_mismatch, db.path() + " has schema version " +
                                                std::to_string(version) +
                                                ", older than this lrsched can report on (" +
                                                std::to_string(kOldestReadableSchema) +
                                                "): start the daemon once to bring it up to date"};
    }
    return ok();
}

// Jobs as status shows them: a deleted job only while it has runs (their
// evidence refers to it); all of them, or the one named.
Result<std::vector<JobReport>> read_jobs(Database& db, std::optional<std::string_view> name) {
    auto s = db.prepare(
        "SELECT id, name, tenant, paused, paused_reason, last_error, last_error_at, deleted_at "
        "FROM jobs WHERE (?1 IS NULL OR name = ?1) AND (deleted_at IS NULL OR "
        "EXISTS (SELECT 1 FROM runs WHERE runs.job_id = jobs.id)) ORDER BY name");
    if (!s) return std::move(s).error();
    s->bind_all(name);
    std::vector<JobReport> jobs;
    auto read = s->each([&](const Statement& row) {
        JobReport j;
        j.id = row.column_int64(0);
        j.name = row.column_text(1);
        j.tenant = row.column_text(2);
        j.paused = row.column_int64(3) != 0;
        j.paused_reason = row.column_optional_text(4);
        j.last_error = row.column_optional_text(5);
        j.last_error_at = row.column_optional_int64(6);
        j.deleted_at = row.column_optional_int64(7);
        jobs.push_back(std::move(j));
    });
    if (!read) return std::move(read).error();
    return jobs;
}

// Every state a key, zeros included; one seek on sessions_by_run_state.
Result<void> read_counts(Database& db, RunReport& run) {
    for (const SessionState state : sessions::kAllStates)
        run.counts[state] = 0;
    auto s = db.prepare("SELECT state, count(*) FROM sessions WHERE run_id = ?1 GROUP BY state");
    if (!s) return std::move(s).error();
    s->bind_all(run.id);
    const std::string what = "run " + std::to_string(run.id);
    return s->each([&](const Statement& row) -> Result<void> {
        auto state = read_state(row, 0, what);
        if (!state) return std::move(state).error();
        run.counts[*state] = row.column_int64(1);
        return ok();
    });
}

// The hooks' outcomes from the audit log (schema 7; none before it).
Result<void> read_hooks(Database& db, RunReport& run) {
    auto t =
        db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'");
    if (!t) return std::move(t).error();
    auto has = t->first([](const Statement&) { return true; });
    if (!has) return std::move(has).error();
    if (!*has) return ok();
    auto s = db.prepare(
        "SELECT at, detail FROM audit_events WHERE run_id = ?1 AND event = 'hook' ORDER BY id");
    if (!s) return std::move(s).error();
    s->bind_all(run.id);
    return s->each([&](const Statement& row) {
        // The daemon wrote the detail; a row it cannot read is shown as such.
        const auto d = nlohmann::json::parse(row.column_text(1), nullptr, false);
        RunReport::Hook h;
        h.at = row.column_int64(0);
        if (d.is_object()) {
            h.kind = d.value("kind", std::string("?"));
            h.ok = d.value("ok", false);
            h.detail = d.value("detail", std::string());
        } else {
            h.kind = "?";
            h.detail = "unreadable audit row";
        }
        run.hooks.push_back(std::move(h));
    });
}

Result<std::optional<RunReport>> read_latest_run(Database& db, std::int64_t job_id) {
    auto s = db.prepare(
        "SELECT id, \"trigger\", created_at, finished_at, deadline_at, unresolved, digest "
        "FROM runs WHERE job_id = ?1 ORDER BY id DESC LIMIT 1");
    if (!s) return std::move(s).error();
    s->bind_all(job_id);
    auto run = s->first([](const Statement& row) -> Result<RunReport> {
        auto trigger = parse_trigger(row.column_text(1));
        if (!trigger) return std::move(trigger).error();
        RunReport r;
        r.id = row.column_int64(0);
        r.trigger = *trigger;
        r.created_at = row.column_int64(2);
        r.finished_at = row.column_optional_int64(3);
        r.deadline_at = row.column_optional_int64(4);
        r.unresolved = row.column_optional_text(5);
        r.digest = row.column_optional_text(6);
        return r;
    });
    if (!run || !*run) return run;
    if (auto r = read_counts(db, **run); !r) return std::move(r).error();
    if (auto r = read_hooks(db, **run); !r) return std::move(r).error();
    return run;
}

Result<void> add_latest_runs(Database& db, std::vector<JobReport>& jobs) {
    for (JobReport& job : jobs) {
        auto run = read_latest_run(db, job.id);
        if (!run) return std::move(run).error();
        job.latest_run = std::move(*run);
    }
    return ok();
}

// What the ETA of each unfinished latest run is estimated from.
Result<void> add_estimate_inputs(Database& db, std::vector<JobReport>& jobs) {
    auto version = user_version(db);
    if (!version) return std::move(version).error();
    for (JobReport& job : jobs) {
        if (!job.latest_run || job.latest_run->finished_at) continue;
        if (auto r = read_backlog(db, *version, *job.latest_run); !r) return r;
        auto samples = read_samples(db, *version, job.id, job.tenant);
        if (!samples) return std::move(samples).error();
        job.samples = std::move(*samples);
    }
    return ok();
}

using TenantMap = std::map<std::string, TenantReport, std::less<>>;

void add_tenant(TenantMap& tenants, const std::string& name) {
    TenantReport t;
    t.name = name;
    tenants.emplace(name, std::move(t));
}

// Pause and throttle state; with `add`, tenants known only from this table
// join the report.
Result<void> read_tenant_rows(Database& db, TenantMap& tenants, bool add) {
    // Migration 5 added the connection error; a store the daemon has not
    // brought up to date yet has none to show.
    auto version = user_version(db);
    if (!version) return std::move(version).error();
    auto s = db.prepare(*version >= 5
                            ? "SELECT name, paused, paused_reason, throttled_until, last_error, "
                              "last_error_since FROM tenants"
                            : "SELECT name, paused, paused_reason, throttled_until, NULL, NULL "
                              "FROM tenants");
    if (!s) return std::move(s).error();
    return s->each([&](const Statement& row) {
        const std::string name = row.column_text(0);
        if (add && !tenants.contains(name)) add_tenant(tenants, name);
        const auto it = tenants.find(name);
        if (it == tenants.end()) return;
        it->second.paused = row.column_int64(1) != 0;
        it->second.paused_reason = row.column_optional_text(2);
        it->second.throttled_until = row.column_optional_int64(3);
        it->second.last_error = row.column_optional_text(4);
        it->second.last_error_since = row.column_optional_int64(5);
    });
}

// Calls that left in the window, both kinds; api_calls holds only the
// longest rate window (prune_api_calls), a few thousand rows at most.
Result<void> read_call_counts(Database& db, TenantMap& tenants, std::int64_t now_ms) {
    auto s = db.prepare(
        "SELECT tenant, kind, count(*) FROM api_calls WHERE started_at >= ?1 "
        "GROUP BY tenant, kind");
    if (!s) return std::move(s).error();
    s->bind_all(now_ms - kCallWindowMs);
    return s->each([&](const Statement& row) {
        const auto it = tenants.find(row.column_text(0));
        if (it == tenants.end()) return;
        const std::int64_t n = row.column_int64(2);
        if (row.column_text(1) == "submit") {
            it->second.submit_calls_last_minute = n;
        } else {
            it->second.read_calls_last_minute = n;
        }
    });
}

// In-flight sessions per tenant: a seek on sessions_dispatch per state, then
// each session's run and job by primary key.
Result<void> read_session_counts(Database& db, TenantMap& tenants) {
    auto s = db.prepare(
        "SELECT jobs.tenant, sessions.state, count(*) FROM sessions "
        "JOIN runs ON runs.id = sessions.run_id JOIN jobs ON jobs.id = runs.job_id "
        "WHERE sessions.state IN ('running', 'pending', 'submitting') "
        "GROUP BY jobs.tenant, sessions.state");
    if (!s) return std::move(s).error();
    return s->each([&](const Statement& row) -> Result<void> {
        const auto it = tenants.find(row.column_text(0));
        if (it == tenants.end()) return ok();
        auto state = read_state(row, 1, "tenant '" + it->first + "'");
        if (!state) return std::move(state).error();
        const std::int64_t n = row.column_int64(2);
        if (*state == SessionState::running) it->second.running = n;
        if (*state == SessionState::pending) it->second.pending = n;
        if (*state == SessionState::submitting) it->second.submitting = n;
        return ok();
    });
}

Result<std::vector<TenantReport>> read_tenants(Database& db,
                                               const std::set<std::string>& names,
                                               bool add_known,
                                               std::int64_t now_ms) {
    TenantMap tenants;
    for (const std::string& name : names)
        add_tenant(tenants, name);
    if (auto r = read_tenant_rows(db, tenants, add_known); !r) return std::move(r).error();
    if (auto r = read_call_counts(db, tenants, now_ms); !r) return std::move(r).error();
    if (auto r = read_session_counts(db, tenants); !r) return std::move(r).error();
    std::vector<TenantReport> out;
    out.reserve(tenants.size());
    for (auto& [name, tenant] : tenants)
        out.push_back(std::move(tenant));
    return out;
}

Error unknown_job(std::string_view name) {
    return Error{Errc::not_found, "no job named '" + std::string(name) + "'"};
}

// The one job named, with its latest run, or Errc::not_found.
Result<JobReport> read_one_job(Database& db, std::string_view name) {
    auto jobs = read_jobs(db, name);
    if (!jobs) return std::move(jobs).error();
    if (jobs->empty()) return unknown_job(name);
    if (auto r = add_latest_runs(db, *jobs); !r) return std::move(r).error();
    return std::move(jobs->front());
}

Result<std::vector<SessionRow>> read_sessions(Database& db,
                                              std::int64_t run_id,
                                              std::optional<SessionState> filter) {
    auto s = db.prepare(
        "SELECT id, machine_id, computer_dns_name, looks_offline, state, attempt, submissions, "
        "action_id, not_before, exit_code, created_at, updated_at, last_error FROM sessions "
        "WHERE run_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY id");
    if (!s) return std::move(s).error();
    const std::optional<std::string_view> state =
        filter ? std::optional{to_string(*filter)} : std::nullopt;
    s->bind_all(run_id, state);
    std::vector<SessionRow> out;
    auto read = s->each([&](const Statement& row) -> Result<void> {
        SessionRow r;
        r.id = row.column_int64(0);
        auto st = read_state(row, 4, "session " + std::to_string(r.id));
        if (!st) return std::move(st).error();
        r.run_id = run_id;
        r.machine_id = row.column_text(1);
        r.computer_dns_name = row.column_optional_text(2);
        r.looks_offline = row.column_int64(3) != 0;
        r.state = *st;
        r.attempt = row.column_int64(5);
        r.submissions = row.column_int64(6);
        r.action_id = row.column_optional_text(7);
        r.not_before = row.column_optional_int64(8);
        r.exit_code = row.column_optional_int64(9);
        r.created_at = row.column_int64(10);
        r.updated_at = row.column_int64(11);
        r.last_error = row.column_optional_text(12);
        out.push_back(std::move(r));
        return ok();
    });
    if (!read) return std::move(read).error();
    return out;
}

}  // namespace

std::int64_t RunReport::total() const {
    std::int64_t n = 0;
    for (const auto& [state, count] : counts)
        n += count;
    return n;
}

std::int64_t RunReport::finished() const {
    std::int64_t n = 0;
    for (const auto& [state, count] : counts) {
        if (sessions::is_terminal(state)) n += count;
    }
    return n;
}

Report::Report(std::unique_ptr<Database> db) : db_(std::move(db)) {}
Report::Report(Report&&) noexcept = default;
Report& Report::operator=(Report&&) noexcept = default;
Report::~Report() = default;

Result<Report> Report::open(const std::string& path) {
    // Looked at first so that a missing file gets an operator's answer, not
    // SQLite's "unable to open database file". Read-only never creates it.
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (st.type() == std::filesystem::file_type::not_found) {
        return Error{Errc::not_found, "no database at " + path + ": has the daemon run yet?"};
    }
    if (ec) return Error{Errc::io_error, "cannot reach the database " + path + ": " + ec.message()};
    auto opened = Database::open(path, OpenMode::read_only);
    if (!opened) return std::move(opened).error();
    auto db = std::make_unique<Database>(std::move(opened).value());
    if (auto r = check_schema(*db); !r) return std::move(r).error();
    return Report(std::move(db));
}

Result<StatusReport> Report::status(const std::vector<std::string>& configured_tenants,
                                    std::optional<std::string_view> job,
                                    std::int64_t now_ms) {
    return in_read_transaction(*db_, [&]() -> Result<StatusReport> {
        StatusReport report;
        report.now = now_ms;
        auto jobs = read_jobs(*db_, job);
        if (!jobs) return std::move(jobs).error();
        if (job && jobs->empty()) return unknown_job(*job);
        if (auto r = add_latest_runs(*db_, *jobs); !r) return std::move(r).error();
        if (auto r = add_estimate_inputs(*db_, *jobs); !r) return std::move(r).error();
        report.jobs = std::move(*jobs);

        std::set<std::string> names;
        if (!job) names.insert(configured_tenants.begin(), configured_tenants.end());
        for (const JobReport& j : report.jobs)
            if (!j.tenant.empty()) names.insert(j.tenant);  // empty: a file never loaded
        auto tenants = read_tenants(*db_, names, !job, now_ms);
        if (!tenants) return std::move(tenants).error();
        report.tenants = std::move(*tenants);
        return report;
    });
}

Result<SessionsReport> Report::sessions(std::string_view job, std::optional<SessionState> filter) {
    return in_read_transaction(*db_, [&]() -> Result<SessionsReport> {
        auto found = read_one_job(*db_, job);
        if (!found) return std::move(found).error();
        SessionsReport report{std::move(*found), {}};
        if (!report.job.latest_run) return report;
        auto rows = read_sessions(*db_, report.job.latest_run->id, filter);
        if (!rows) return std::move(rows).error();
        report.sessions = std::move(*rows);
        return report;
    });
}

Result<SessionSamples> Report::session_samples(std::string_view job, std::string_view tenant) {
    return in_read_transaction(*db_, [&]() -> Result<SessionSamples> {
        auto version = user_version(*db_);
        if (!version) return std::move(version).error();
        // The job's own runs count only under the same tenant: a job file
        // moved to another tenant starts from that tenant's figures.
        auto s = db_->prepare("SELECT id FROM jobs WHERE name = ?1 AND tenant = ?2");
        if (!s) return std::move(s).error();
        s->bind_all(job, tenant);
        auto job_id = s->first([](const Statement& row) { return row.column_int64(0); });
        if (!job_id) return std::move(job_id).error();
        return read_samples(*db_, *version, *job_id, tenant);
    });
}

}  // namespace lrsched::store
