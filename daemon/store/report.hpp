// Report: the read-only view of the store behind `lrsched status` and
// `lrsched sessions`, until the control socket answers them. It opens its own
// connection beside the daemon's writer, read-only and query_only, never
// creating the file; the database is in WAL mode, so this reader neither
// blocks the writer nor waits for it. Each report is read in one deferred
// read transaction: its figures all come from one snapshot. Time is an
// argument (unix ms, UTC), never read here. Load: one report per operator
// command: a few dozen jobs, one index-only GROUP BY per latest run, two
// grouped counts for the tenants; a sessions listing reads up to 10^5 rows.
// For the ETA of an unfinished run, a few index seeks more: its backlog and
// at most a few thousand measured session times (report_estimates.cpp).
#pragma once

#include "common/result.hpp"
#include "sessions/session_state.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::store {

class Database;

// The window of the per-tenant call counts: "calls in the last minute".
inline constexpr std::int64_t kCallWindowMs = 60'000;

// Measured session times (issue 11): milliseconds from a session's
// submission (sessions.submitted_at) to its end (its last event), newest
// first. Online-looking sessions count when done, or failed with results
// stored; offline-looking ones also when expired, since waiting out the
// queue is what most of them do.
enum class SampleSource {
    none,             // nothing measured yet
    job_runs,         // the job's last kMeasuredRuns finished runs
    tenant_sessions,  // the tenant's last kTenantSessions sessions, of any job
};
inline constexpr int kMeasuredRuns = 3;
inline constexpr int kMeasuredPerRun = 200;  // per run and end state, newest first
inline constexpr int kTenantSessions = 200;

struct SessionSamples {
    SampleSource source = SampleSource::none;
    int runs = 0;  // job_runs: how many finished runs gave samples
    std::vector<std::int64_t> online;
    std::vector<std::int64_t> offline;
};

// A session of the run on the server: submitting, pending, running, collecting.
struct InFlightSession {
    bool looks_offline = false;
    SessionState state = SessionState::submitting;
    std::optional<std::int64_t> submitted_at;
};

// What is left of an unfinished run, for its ETA.
struct RunBacklog {
    std::int64_t queued_online = 0;
    std::int64_t queued_offline = 0;
    std::optional<std::int64_t> busy_until;     // the latest not_before of its busy sessions
    std::optional<std::int64_t> busy_every_ms;  // retry.busy_every of its frozen definition
    std::vector<InFlightSession> in_flight;     // by id
};

struct RunReport {
    std::int64_t id = 0;
    RunTrigger trigger = RunTrigger::manual;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> deadline_at;
    std::optional<std::string> unresolved;  // JSON text, as runs.unresolved holds it
    std::optional<std::string> digest;      // the run digest, once closed
    // The on_finish hooks' outcomes (audit_events), in the order they ended.
    struct Hook {
        std::int64_t at = 0;
        std::string kind;  // command, webhook, hooks (a failure before either ran)
        bool ok = false;
        std::string detail;
    };
    std::vector<Hook> hooks;
    std::map<SessionState, std::int64_t> counts;  // every one of the 14 states, zeros included
    std::optional<RunBacklog> backlog;            // status only, and only while unfinished

    std::int64_t total() const;
    std::int64_t finished() const;  // sessions in a terminal state (sessions::is_terminal)
};

struct JobReport {
    std::int64_t id = 0;
    std::string name;
    std::string tenant;
    bool paused = false;
    std::optional<std::string> paused_reason;
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_error_at;
    std::optional<std::int64_t> deleted_at;
    std::optional<RunReport> latest_run;  // nullopt: the job never ran
    // status only, and only while the latest run is unfinished: the times
    // its ETA is estimated from.
    std::optional<SessionSamples> samples;
};

struct TenantReport {
    std::string name;
    std::int64_t submit_calls_last_minute = 0;  // api_calls started in the last kCallWindowMs
    std::int64_t read_calls_last_minute = 0;
    // Sessions in these states across every run of the tenant's jobs.
    std::int64_t running = 0;
    std::int64_t pending = 0;
    std::int64_t submitting = 0;
    bool paused = false;
    std::optional<std::string> paused_reason;
    std::optional<std::int64_t> throttled_until;
    // Calls get no answer (refused, TLS, timeouts): the last error, and
    // since when.
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_error_since;
};

struct StatusReport {
    std::int64_t now = 0;
    std::vector<JobReport> jobs;        // by name
    std::vector<TenantReport> tenants;  // by name
};

struct SessionsReport {
    JobReport job;                     // with its latest run's counts, if it has one
    std::vector<SessionRow> sessions;  // of the latest run, by id; empty without a run
};

class Report {
  public:
    // Opens the database at `path` for reading; never creates it. Errors:
    // Errc::not_found when there is no such file ("no database at PATH: has
    // the daemon run yet?"), Errc::io_error when it cannot be reached (a
    // state_dir the caller may not enter), Errc::schema_mismatch when its
    // schema is newer than this binary's migrations or older than the
    // reports need, Errc::database_error for anything SQLite refuses.
    static Result<Report> open(const std::string& path);

    Report(Report&&) noexcept;
    Report& operator=(Report&&) noexcept;
    ~Report();

    // Jobs by name (a deleted job only while it has runs), each with its
    // latest run, and tenants: those in `configured_tenants`, those of the
    // jobs, and those the store has state for. With `job`: that job alone
    // and its tenant alone; Errc::not_found when no such job is shown.
    Result<StatusReport> status(const std::vector<std::string>& configured_tenants,
                                std::optional<std::string_view> job,
                                std::int64_t now_ms);

    // The sessions of `job`'s latest run, by id, only those in `filter` when
    // given. Errc::not_found for a job status would not show.
    Result<SessionsReport> sessions(std::string_view job, std::optional<SessionState> filter);

    // The measured session times `lrsched plan` estimates from: those of
    // the job named, if the store knows it under `tenant` and it has
    // finished runs with samples, else the tenant's recent ones.
    Result<SessionSamples> session_samples(std::string_view job, std::string_view tenant);

    // `results`, `diff`, `stack` (store/run_close.cpp): the job's runs,
    // newest first (Errc::not_found for an unknown job), and one run's
    // contents (Errc::not_found when the job has no such run).
    Result<std::vector<RunBrief>> runs_of(std::string_view job);
    Result<RunContents> run_contents(std::string_view job, std::int64_t run_id);

  private:
    explicit Report(std::unique_ptr<Database> db);

    std::unique_ptr<Database> db_;  // by pointer: keeps sqlite.hpp out of this header
};

}  // namespace lrsched::store
