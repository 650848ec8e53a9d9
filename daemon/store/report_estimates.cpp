// The queries behind estimates (see report_estimates.hpp). Every statement
// is a seek: runs by runs_by_job or by primary key, sessions by
// sessions_by_run_state (run_id, state; the rowid follows, so "newest first"
// needs no sort) or sessions_queued, events by session_events_by_session,
// artifacts by artifacts_by_session. A test checks each plan (no SCAN of
// sessions), so a report on 10^6 sessions reads only the rows it uses.
#include "store/report_estimates.hpp"

#include "store/rows.hpp"
#include "store/sqlite.hpp"

#include <algorithm>
#include <array>

namespace lrsched::store {
namespace {

// Migration 5 added sessions.submitted_at, which every measurement needs.
constexpr int kSubmittedAtSchema = 5;

// Finished runs looked at for the job's measurement, newest first: enough
// to step over a few cancelled ones without walking years of history.
constexpr int kJobRunsLookedAt = 10;
// The tenant's runs looked at, newest first, for its last sessions.
constexpr int kTenantRunsLookedAt = 50;

// A session's time from its submission to its last event (updated_at when
// it has none, as rows written before the event log might not), for one end
// state; the statement's first column says whether it looked offline.
constexpr std::string_view kSampleColumns =
    "SELECT s.looks_offline, coalesce((SELECT max(e.at) FROM session_events e "
    "WHERE e.session_id = s.id), s.updated_at) - s.submitted_at FROM sessions s ";

// done; failed only with results stored (a failure before any result says
// nothing of how long a session takes); expired only when offline-looking
// (an online-looking machine that expired is an outlier, an offline one
// waiting out the queue is the rule).
const std::array<std::string, 3> kSampleQueries{
    std::string(kSampleColumns) +
        "WHERE s.run_id = ?1 AND s.state = 'done' AND s.submitted_at IS NOT NULL "
        "ORDER BY s.id DESC LIMIT ?2",
    std::string(kSampleColumns) +
        "WHERE s.run_id = ?1 AND s.state = 'failed' AND s.submitted_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM artifacts a WHERE a.session_id = s.id) "
        "ORDER BY s.id DESC LIMIT ?2",
    std::string(kSampleColumns) +
        "WHERE s.run_id = ?1 AND s.state = 'expired' AND s.looks_offline = 1 "
        "AND s.submitted_at IS NOT NULL ORDER BY s.id DESC LIMIT ?2",
};

// Adds up to `limit` samples of one run per end state; how many it added.
Result<std::int64_t> add_run_samples(Database& db,
                                     std::int64_t run_id,
                                     std::int64_t limit,
                                     SessionSamples& out) {
    std::int64_t added = 0;
    for (const std::string& sql : kSampleQueries) {
        if (added >= limit) break;
        auto s = db.prepare(sql);
        if (!s) return std::move(s).error();
        s->bind_all(run_id, limit - added);
        auto read = s->each([&](const Statement& row) {
            const std::int64_t ms = row.column_int64(1);
            if (ms < 0) return;  // our clock stepped back between the two
            (row.column_int64(0) != 0 ? out.offline : out.online).push_back(ms);
            ++added;
        });
        if (!read) return std::move(read).error();
    }
    return added;
}

// The run ids `s` (bound, with its LIMIT) yields.
Result<std::vector<std::int64_t>> run_ids(Statement& s) {
    std::vector<std::int64_t> ids;
    auto read = s.each([&](const Statement& row) { ids.push_back(row.column_int64(0)); });
    if (!read) return std::move(read).error();
    return ids;
}

Result<SessionSamples> job_samples(Database& db, std::int64_t job_id) {
    SessionSamples out;
    out.source = SampleSource::job_runs;
    auto s = db.prepare(
        "SELECT id FROM runs WHERE job_id = ?1 AND finished_at IS NOT NULL "
        "ORDER BY id DESC LIMIT ?2");
    if (!s) return std::move(s).error();
    s->bind_all(job_id, kJobRunsLookedAt);
    auto ids = run_ids(*s);
    if (!ids) return std::move(ids).error();
    for (const std::int64_t run : *ids) {
        if (out.runs >= kMeasuredRuns) break;
        const std::size_t before = out.online.size();
        if (auto r = add_run_samples(db, run, kMeasuredPerRun, out); !r)
            return std::move(r).error();
        if (out.online.size() > before) ++out.runs;
    }
    return out;
}

Result<SessionSamples> tenant_samples(Database& db, std::string_view tenant) {
    SessionSamples out;
    out.source = SampleSource::tenant_sessions;
    auto s = db.prepare(
        "SELECT runs.id FROM runs JOIN jobs ON jobs.id = runs.job_id WHERE jobs.tenant = ?1 "
        "ORDER BY runs.id DESC LIMIT ?2");
    if (!s) return std::move(s).error();
    s->bind_all(tenant, kTenantRunsLookedAt);
    auto ids = run_ids(*s);
    if (!ids) return std::move(ids).error();
    std::int64_t taken = 0;
    for (const std::int64_t run : *ids) {
        if (taken >= kTenantSessions) break;
        auto added = add_run_samples(db, run, kTenantSessions - taken, out);
        if (!added) return std::move(added).error();
        taken += *added;
    }
    return out;
}

Result<void> read_queued(Database& db, RunBacklog& b, std::int64_t run_id) {
    auto s = db.prepare(
        "SELECT looks_offline, count(*) FROM sessions WHERE run_id = ?1 AND state = 'queued' "
        "GROUP BY looks_offline");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    return s->each([&](const Statement& row) {
        (row.column_int64(0) != 0 ? b.queued_offline : b.queued_online) = row.column_int64(1);
    });
}

Result<void> read_busy(Database& db, RunBacklog& b, std::int64_t run_id) {
    // Without the hint SQLite may pick sessions_dispatch (state, not_before),
    // which reads the busy sessions of every run.
    auto s = db.prepare(
        "SELECT max(not_before) FROM sessions INDEXED BY sessions_by_run_state "
        "WHERE run_id = ?1 AND state = 'busy'");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    auto until = s->first([](const Statement& row) { return row.column_optional_int64(0); });
    if (!until) return std::move(until).error();
    if (*until) b.busy_until = **until;
    // The frozen definition's retry.busy_every (jobs::to_json); a run stored
    // without one (an older daemon, a test) leaves the default.
    auto d = db.prepare(
        "SELECT CASE WHEN json_type(definition, '$.retry.busy_every_ms') = 'integer' "
        "THEN json_extract(definition, '$.retry.busy_every_ms') END FROM runs WHERE id = ?1");
    if (!d) return std::move(d).error();
    d->bind_all(run_id);
    auto every = d->first([](const Statement& row) { return row.column_optional_int64(0); });
    if (!every) return std::move(every).error();
    if (*every) b.busy_every_ms = **every;
    return ok();
}

Result<void> read_in_flight(Database& db, int schema, RunBacklog& b, std::int64_t run_id) {
    auto s = db.prepare(schema >= kSubmittedAtSchema
                            ? "SELECT looks_offline, state, submitted_at FROM sessions "
                              "WHERE run_id = ?1 AND state IN ('submitting', 'pending', "
                              "'running', 'collecting')"
                            : "SELECT looks_offline, state, NULL FROM sessions "
                              "WHERE run_id = ?1 AND state IN ('submitting', 'pending', "
                              "'running', 'collecting')");
    if (!s) return std::move(s).error();
    s->bind_all(run_id);
    const std::string what = "run " + std::to_string(run_id);
    return s->each([&](const Statement& row) -> Result<void> {
        auto state = read_state(row, 1, what);
        if (!state) return std::move(state).error();
        b.in_flight.push_back({row.column_int64(0) != 0, *state, row.column_optional_int64(2)});
        return ok();
    });
}

}  // namespace

Result<void> read_backlog(Database& db, int schema_version, RunReport& run) {
    RunBacklog b;
    if (auto r = read_queued(db, b, run.id); !r) return r;
    if (auto r = read_busy(db, b, run.id); !r) return r;
    if (auto r = read_in_flight(db, schema_version, b, run.id); !r) return r;
    run.backlog = std::move(b);
    return ok();
}

Result<SessionSamples> read_samples(Database& db,
                                    int schema_version,
                                    std::optional<std::int64_t> job_id,
                                    std::string_view tenant) {
    if (schema_version < kSubmittedAtSchema) return SessionSamples{};
    if (job_id) {
        auto own = job_samples(db, *job_id);
        if (!own) return own;
        if (!own->online.empty()) return own;
    }
    auto recent = tenant_samples(db, tenant);
    if (!recent) return recent;
    if (!recent->online.empty()) return recent;
    return SessionSamples{};
}

}  // namespace lrsched::store
