// Store: lrsched's typed access to its SQLite database (schema/*.sql) — jobs,
// runs, sessions with their event log, and artifacts. Single-threaded, owned
// by the io thread. Every write is one BEGIN IMMEDIATE transaction, and every
// session state change is checked against SPEC §3's table before anything is
// written. Time is always an argument (unix ms, UTC); the store never reads a
// clock. Load: up to 10^6 session rows, ~10 state changes a minute, batches of
// up to 10^5 sessions queued at once.
//
// Folder store/: SQLite (the only place that includes sqlite3.h),
// migrations, reports; includes limits/, sessions/, common/.
#pragma once

#include "common/result.hpp"
#include "sessions/session_state.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrsched::store {

class Database;
using sessions::SessionState;

struct JobRow {
    std::int64_t id = 0;  // assigned by the store; ignored by upsert_job
    std::string name;
    std::string tenant;
    std::string definition;  // canonical JSON
    std::string source_path;
    std::string source_sha256;
    std::int64_t loaded_at = 0;
    // Owned by set_job_error and set_job_paused; upsert_job leaves them alone.
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_error_at;
    bool paused = false;
    std::optional<std::string> paused_reason;
    std::optional<std::int64_t> deleted_at;
    std::optional<std::int64_t> last_fired_at;  // owned by set_job_last_fired
};

enum class RunTrigger { first_load, cron, catch_up, manual };
std::string_view to_string(RunTrigger trigger) noexcept;

struct NewRun {
    std::int64_t job_id = 0;
    std::string definition;  // the job's definition, frozen for this run
    RunTrigger trigger = RunTrigger::manual;
    std::optional<std::int64_t> scheduled_for;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> deadline_at;
    // A cron firing: jobs.last_fired_at is set to this in the same
    // transaction, so a crash never leaves the run without its record (or
    // the record without its run).
    std::optional<std::int64_t> mark_fired;
};

struct RunRow {
    std::int64_t id = 0;
    std::int64_t job_id = 0;
    std::string definition;
    RunTrigger trigger = RunTrigger::manual;
    std::optional<std::int64_t> scheduled_for;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> deadline_at;
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> resolved_at;  // targets resolved, sessions queued
};

// A run not finished yet, with what the dispatcher needs of its job.
struct ActiveRun {
    RunRow run;
    std::string job_name;
    std::string tenant;
};

struct NewSession {
    std::string machine_id;
    std::optional<std::string> computer_dns_name;
    bool looks_offline = false;
};

struct SessionRow {
    std::int64_t id = 0;
    std::int64_t run_id = 0;
    std::string machine_id;
    std::optional<std::string> computer_dns_name;
    bool looks_offline = false;
    SessionState state = SessionState::queued;
    std::int64_t attempt = 1;
    std::int64_t submissions = 0;
    std::optional<std::string> action_id;
    std::optional<std::int64_t> not_before;
    std::optional<std::int64_t> exit_code;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::optional<std::string> last_error;
    // When the current (or last) submission began: its action, if any, was
    // created after this instant (our clock).
    std::optional<std::int64_t> submitted_at;
};

// What a state change records besides the new state. How each field is kept:
// - action_id, exit_code: written when given; otherwise kept, except that
//   entering `queued` clears them (they described an action that is over).
// - error: written to last_error when given; otherwise last_error is kept.
// - not_before: always the given value (NULL if absent): it only means
//   something for the state being entered (busy, queued).
// - detail: free text for the event log only.
struct TransitionDetail {
    std::optional<std::string> action_id;
    std::optional<std::string> error;
    std::optional<std::int64_t> exit_code;
    std::optional<std::int64_t> not_before;
    std::string detail;

    static TransitionDetail note(std::string text) {
        TransitionDetail d;
        d.detail = std::move(text);
        return d;
    }
    static TransitionDetail failure(std::string error) {
        TransitionDetail d;
        d.error = std::move(error);
        return d;
    }
};

struct EventRow {
    std::int64_t id = 0;
    std::int64_t session_id = 0;
    std::int64_t at = 0;
    std::optional<SessionState> from_state;  // nullopt for the creation event
    SessionState to_state = SessionState::queued;
    std::int64_t attempt = 1;
    std::optional<std::string> action_id;
    std::optional<std::string> detail;  // the transition's detail and error text
};

struct ArtifactRow {
    std::int64_t id = 0;  // assigned by the store; ignored by add_artifact
    std::int64_t session_id = 0;
    std::string action_id;
    std::int64_t command_index = 0;
    std::string command_type;  // "RunScript" or "GetFile"
    std::string remote;        // script name or remote path exactly as sent
    std::string file;          // relative to the run folder
    std::int64_t bytes = 0;
    std::string sha256;
    std::int64_t downloaded_at = 0;
    std::string action_status;
};

// A run with everything `results`, `diff`, `stack` and the closer read of it
// (store/run_close.cpp): its sessions and every artifact of them.
struct RunContents {
    std::int64_t id = 0;
    std::string job;
    std::string definition;  // the frozen canonical JSON
    std::int64_t created_at = 0;
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> closed_at;
    std::optional<std::int64_t> evidence_removed_at;
    std::optional<std::string> chain_tail;
    std::optional<std::string> digest;
    std::vector<SessionRow> sessions;    // by id
    std::vector<ArtifactRow> artifacts;  // by id
};

// A run of a job as the closer's retention and `diff` see it.
struct RunBrief {
    std::int64_t id = 0;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> closed_at;
    std::optional<std::int64_t> evidence_removed_at;
    std::optional<std::string> digest;
};

enum class AuditEvent { run_digest, hook, evidence_removed };

struct AuditRow {
    std::int64_t at = 0;
    std::string job;
    std::int64_t run_id = 0;
    std::string event;
    std::string detail;  // JSON
};

enum class ApiCallKind { submit, read };

struct ApiCallRow {
    std::int64_t id = 0;
    std::int64_t started_at = 0;
    std::optional<std::int64_t> ended_at;  // nullopt: in flight when the daemon stopped
};

struct TenantRow {
    std::string name;
    bool paused = false;
    std::optional<std::string> paused_reason;
    std::optional<std::int64_t> throttled_until;
    // The API (or its token endpoint) could not be reached: why, and since
    // when without an answer.
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_error_since;
};

class Store {
  public:
    // Opens (creating if needed) the database at `path`, sets its pragmas and
    // applies the embedded migrations; the first migration makes install_id.
    static Result<Store> open(const std::string& path);

    Store(Store&&) noexcept;
    Store& operator=(Store&&) noexcept;
    ~Store();

    const std::string& install_id() const noexcept { return install_id_; }
    int schema_version() const noexcept { return schema_version_; }

    // ---- jobs ----
    // Inserts the job or, when one of that name exists, updates its file-
    // derived columns (tenant, definition, source_*, loaded_at, deleted_at)
    // keeping its id. Returns the id.
    Result<std::int64_t> upsert_job(const JobRow& job);
    Result<std::optional<JobRow>> find_job(std::string_view name);
    // Sets last_error (and last_error_at = now_ms), or clears both on nullopt.
    // Errc::not_found for an unknown job, here and in set_job_paused.
    Result<void> set_job_error(std::string_view name,
                               std::optional<std::string> error,
                               std::int64_t now_ms);
    // Unpausing clears paused_reason.
    Result<void> set_job_paused(std::string_view name, bool paused, std::string reason);
    // The last cron instant the job handled (ran or skipped).
    Result<void> set_job_last_fired(std::string_view name, std::int64_t at_ms);
    Result<std::vector<JobRow>> list_jobs();  // by name, deleted ones included

    // ---- runs ----
    // Creates the run (and records its firing, see NewRun::mark_fired) and
    // returns its id; nullopt, with only the firing recorded, when the job
    // already has a run for the same scheduled instant.
    Result<std::optional<std::int64_t>> create_run(const NewRun& run);
    Result<std::optional<RunRow>> latest_run(std::int64_t job_id);       // the last created
    Result<std::optional<std::string>> job_of_run(std::int64_t run_id);  // the job's name
    // Runs without finished_at, oldest first (schema/004's partial index).
    Result<std::vector<ActiveRun>> unfinished_runs();
    // The run's targets are resolved and its sessions queued; `unresolved_json`
    // lists named machines the listing did not hold.
    Result<void> mark_run_resolved(std::int64_t run_id,
                                   std::optional<std::string> unresolved_json,
                                   std::int64_t now_ms);
    // Sets finished_at when the run is resolved and none of its sessions is
    // still on its way (every one terminal); returns whether it did.
    // The digest comes later, when the daemon closes the run (close_run).
    Result<bool> finish_run_if_done(std::int64_t run_id, std::int64_t now_ms);

    // ---- sessions ----
    // Queues one session per machine in one transaction, each with its
    // creation event ((none) -> queued). A machine that already has a session
    // in this run is skipped, so queueing again after a crash is harmless.
    // Returns the number of sessions created.
    Result<std::size_t> queue_sessions(std::int64_t run_id,
                                       const std::vector<NewSession>& machines,
                                       std::int64_t now_ms);
    // Moves a session to `to` and appends the event, in one transaction.
    // Errc::illegal_transition (nothing written) if SPEC §3 forbids it;
    // Errc::not_found for an unknown session. Entering submitting counts a
    // submission; failed -> queued and expired -> queued start a new attempt.
    Result<SessionRow> transition(std::int64_t session_id,
                                  SessionState to,
                                  const TransitionDetail& detail,
                                  std::int64_t now_ms);
    Result<std::optional<SessionRow>> find_session(std::int64_t session_id);
    // Sets last_error without a state change (a download that will be tried
    // again); the event log is not written: nothing happened to the session.
    Result<void> set_session_error(std::int64_t session_id,
                                   const std::string& error,
                                   std::int64_t now_ms);
    Result<std::vector<SessionRow>> sessions_of_run(std::int64_t run_id,
                                                    std::optional<SessionState> filter);
    // Every one of the 14 states is a key, zeros included.
    Result<std::map<SessionState, std::int64_t>> count_by_state(std::int64_t run_id);
    Result<std::vector<EventRow>> events_of(std::int64_t session_id);  // oldest first
    // When the session entered its current state (its last event), or
    // nullopt for an unknown session. For sessions followed after a restart:
    // updated_at also moves when an error is recorded.
    Result<std::optional<std::int64_t>> entered_state_at(std::int64_t session_id);

    // ---- the dispatcher's queue (schema/003_queue_order.sql) ----
    // Runs that have at least one queued session, oldest first.
    Result<std::vector<std::int64_t>> runs_with_queued();
    // The oldest queued session of a run among machines that looked offline
    // (or not), or nullopt; one index seek.
    Result<std::optional<SessionRow>> oldest_queued(std::int64_t run_id, bool looks_offline);
    // The earliest not_before among busy sessions: when the next one may be
    // queued again.
    Result<std::optional<std::int64_t>> next_busy_wake();
    // Busy sessions whose not_before has come, earliest first.
    Result<std::vector<SessionRow>> busy_due(std::int64_t now_ms);
    // Whether a run has a queued or busy session for a machine that looked
    // offline (an index seek).
    Result<bool> has_waiting_offline(std::int64_t run_id);
    // A health re-check: among the sessions of `run_ids` still waiting for
    // their machine (queued, busy, submitting, pending), those whose machine
    // is in `offline_now` look offline from now on and the others online, in
    // one transaction. Returns the sessions that changed, as they are now.
    struct OfflineChange {
        std::int64_t session_id = 0;
        SessionState state = SessionState::queued;
        bool looks_offline = false;
    };
    Result<std::vector<OfflineChange>> set_waiting_offline(
        const std::vector<std::int64_t>& run_ids, const std::set<std::string>& offline_now);
    // Moves every queued and busy session of a run to `to` (withdrawn,
    // gave_up or cancelled) with its event, in one transaction: a job of
    // 10^5 sessions is withdrawn in one commit. Returns how many moved.
    // With `machine_id`, only that machine's session (the operator's
    // `cancel JOB --machine ID`).
    Result<std::int64_t> end_waiting(std::int64_t run_id,
                                     SessionState to,
                                     const std::string& detail,
                                     std::int64_t now_ms,
                                     const std::optional<std::string>& machine_id = std::nullopt);

    // "lrsched:<install_id>:<session id>:<submissions>": the tag carried in
    // the Comment of the session's current (or last) submission.
    std::string correlation_tag(const SessionRow& session) const;

    // ---- API calls (rate windows that survive a restart) ----
    // Records a call leaving now; returns its id. A submit's row is written
    // by begin_submit, in the same transaction as the session's move.
    Result<std::int64_t> begin_api_call(std::string_view tenant,
                                        ApiCallKind kind,
                                        std::int64_t now_ms);
    Result<void> end_api_call(std::int64_t call_id, std::int64_t at_ms);
    // Calls of `tenant` and `kind` that ended after `since_ms` or never
    // ended (in flight when the daemon stopped), oldest first.
    Result<std::vector<ApiCallRow>> api_calls_since(std::string_view tenant,
                                                    ApiCallKind kind,
                                                    std::int64_t since_ms);
    // Deletes calls that ended before `before_ms`; returns how many.
    Result<std::int64_t> prune_api_calls(std::int64_t before_ms);

    // Moves a session to `submitting` and records its submit call in one
    // transaction: once this returns, the call may leave, and a crash at any
    // later point finds the session submitting (to be reconciled) and the
    // call counted in the rate window.
    struct SubmitStart {
        SessionRow session;
        std::int64_t call_id = 0;
    };
    Result<SubmitStart> begin_submit(std::int64_t session_id,
                                     std::string_view tenant,
                                     std::int64_t now_ms);

    // ---- tenants ----
    Result<TenantRow> tenant_state(std::string_view tenant);  // defaults when never written
    Result<void> set_tenant_paused(std::string_view tenant, bool paused, std::string reason);
    Result<void> set_tenant_throttled_until(std::string_view tenant,
                                            std::optional<std::int64_t> until_ms);
    // Records a connection error (last_error_since keeps the first failure's
    // time while errors follow each other), or clears both on nullopt.
    Result<void> set_tenant_error(std::string_view tenant,
                                  std::optional<std::string> error,
                                  std::int64_t now_ms);

    // ---- artifacts ----
    // Records one downloaded file; a second row for the same (action_id,
    // command_index) is refused.
    // `chain_tail`: the hash of the manifest line just written for it, kept
    // as the run's chain tail in the same transaction (runs.chain_tail).
    Result<void> add_artifact(const ArtifactRow& artifact,
                              const std::optional<std::string>& chain_tail = std::nullopt);
    // The run's chain tail as read back from its manifest after a crash.
    Result<void> set_chain_tail(std::int64_t run_id, const std::string& tail);
    // runs.digest: the chain tail frozen when the run was closed (null before).
    Result<std::optional<std::string>> run_digest(std::int64_t run_id);
    Result<std::vector<ArtifactRow>> artifacts_of_session(std::int64_t session_id);
    // (action_id, command_index) of every artifact of a run's sessions: to
    // find manifest lines a crash kept out of the store. Read once per run
    // and process; up to 2 x 10^5 pairs.
    Result<std::set<std::pair<std::string, std::int64_t>>> artifact_keys_of_run(
        std::int64_t run_id);
    // The session whose current action is `action_id`, if any.
    Result<std::optional<std::int64_t>> session_of_action(std::string_view action_id);

    // ---- closing a run (store/run_close.cpp) ----
    // Ended runs still to close, or whose hooks are still to run, oldest first.
    Result<std::vector<std::int64_t>> runs_to_close();
    Result<RunContents> run_contents(std::int64_t run_id);
    // Sets the run's chain tail and digest to `digest` and closed_at, and
    // appends the audit event, in one transaction (the digest is kept once
    // written: a different one is refused by 006's trigger).
    Result<void> close_run(std::int64_t run_id, const std::string& digest, std::int64_t now_ms);
    Result<void> set_hooks_done(std::int64_t run_id, std::int64_t now_ms);
    // `detail`: a JSON object.
    Result<void> add_audit(std::int64_t run_id,
                           AuditEvent event,
                           const std::string& detail,
                           std::int64_t now_ms);
    Result<std::vector<AuditRow>> audit_of_run(std::int64_t run_id);
    // The job's runs, newest first.
    Result<std::vector<RunBrief>> runs_of_job(std::string_view job);
    // Marks the run's evidence removed and appends the audit event with its digest.
    Result<void> mark_evidence_removed(std::int64_t run_id,
                                       const std::string& detail,
                                       std::int64_t now_ms);

  private:
    Store(std::unique_ptr<Database> db, std::string install_id, int schema_version);
    // transition() without its own transaction: the caller holds one.
    Result<SessionRow> transition_locked(std::int64_t session_id,
                                         SessionState to,
                                         const TransitionDetail& detail,
                                         std::int64_t now_ms);

    std::unique_ptr<Database> db_;  // by pointer: keeps sqlite.hpp out of this header
    std::string install_id_;
    int schema_version_ = 0;
};

}  // namespace lrsched::store
