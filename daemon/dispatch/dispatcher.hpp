// The dispatcher of one tenant (SPEC §1, §3): which queued session goes next,
// what each answer of the API means for it, and what the sessions on the
// server are doing. No sockets, no clock and no random source: the runtime
// (runtime/tenant_loops.cpp) asks it what to do, makes the calls, and hands
// the answers back with the time they arrived; the jitter's draws come from
// the `Draw` it is given. It is not pure: every decision is committed to the
// store (and logged) before it returns, so a crash loses none; tests run it
// in microseconds against a real store file.
//
// Expected load: ~10 submits a minute per tenant (up to a few per second with
// compressed test limits), tens of sessions in flight, up to thousands
// pending on offline machines, runs of up to 10^5 queued sessions. Each
// decision costs a few index seeks in the store and O(1) in memory.
//
// Invariants: the gate counts exactly the tracked sessions by slot class;
// a session is tracked iff it is submitting, pending, running or collecting;
// no session reaches the network twice for one tag (begin_submit commits
// `submitting` before the call may leave).
//
// Folder dispatch/: the engine (dispatcher, tracking, run plan, session log,
// estimates, health); no Asio, no clock; includes api/, config/, evidence/,
// jobs/, limits/, sessions/, store/, common/.
#pragma once

#include "api/mde.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "dispatch/run_plan.hpp"
#include "limits/concurrency_gate.hpp"
#include "limits/rate_limiter.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace lrsched::dispatch {

using store::SessionRow;
using store::SessionState;

// A submit to make now: begin_submit has committed it; the call may leave.
struct Submit {
    std::int64_t session_id = 0;
    std::int64_t run_id = 0;
    std::string machine_id;
    std::string tag;
    std::string body;  // the runliveresponse JSON
    std::int64_t store_call_id = 0;
    limits::RateLimiter::CallId limiter_call_id = 0;
};

// Nothing to submit before `wake_at` (nullopt: until an event: a freed
// slot, a new run, a finished call, a control command).
struct Idle {
    std::optional<Millis> wake_at;
    std::string why;  // for debug logs
};

using api::SubmitAnswer;  // how a submit call ended, as the client saw it

// What the shell does after a submit answer.
enum class FollowUp { none, refresh_token, reconcile };

// One machine's actions to list, looking for a session's tags.
struct Lookup {
    std::int64_t session_id = 0;
    std::string machine_id;
};

// One result file to fetch: a completed RunScript or GetFile command.
struct ResultItem {
    int index = 0;
    std::string type;    // RunScript or GetFile
    std::string remote;  // the script name or remote path exactly as sent
    std::string name;    // the evidence file's name (evidence::artifact_name)
};

// A session whose action ended, with the results to bring home (SPEC §4).
struct Collection {
    std::int64_t session_id = 0;
    std::int64_t run_id = 0;
    std::string job;
    std::string machine_id;
    std::string computer_dns_name;
    std::string action_id;
    std::string action_status;  // as the server spelled it
    std::vector<ResultItem> items;
};

// What collecting a session's results came to: every result stored, except
// those `not_stored` names (over an evidence size cap; fetching them again
// would not help).
struct Collected {
    std::optional<std::int64_t> exit_code;  // from the RunScript transcript
    std::vector<std::string> not_stored;    // one reason per result left out
};

// An action the daemon gives up on (its own queue_expiry, the run's deadline):
// cancel it on the server, best effort.
struct Cancel {
    std::string action_id;
    std::string reason;
    int attempts = 0;  // cancel calls already tried for it (the operator's: retried a few times)
};

// What the operator's `cancel JOB [--machine ID]` did (Dispatcher::cancel_job).
struct CancelOutcome {
    std::int64_t runs = 0;       // the job's unfinished runs of this tenant
    std::int64_t cancelled = 0;  // queued and busy sessions ended `cancelled` at once
    std::int64_t on_server = 0;  // sessions in flight whose actions are cancelled on the server
};

class Dispatcher {
  public:
    // `tenant` and `store` must outlive the dispatcher.
    // A draw in [0, 1) for the jitter of backoffs; the runtime seeds it.
    using Draw = std::function<double()>;
    Dispatcher(store::Store& store, const config::Tenant& tenant, Draw draw);

    // Rebuilds everything from the store: the tenant's unfinished runs, the
    // gate (sessions holding slots), the rate windows (api_calls), pause and
    // throttle state. Called once at start-up, before any call.
    Result<void> load(Millis now);
    // A run of this tenant was created and resolved (or loaded again).
    Result<void> add_run(const store::ActiveRun& run);

    // ---- dispatch ----
    // The next submit, already durable as `submitting`, or how long to idle.
    std::variant<Submit, Idle> next(Millis now);
    // The answer to a submit from next().
    FollowUp submit_answered(const Submit& submit, const SubmitAnswer& answer, Millis now);
    // The token endpoint refused us (bad secret, unknown tenant): pause.
    void token_refused(const std::string& why);
    // The operator handed over new credentials (`reload`): a pause for
    // refused credentials ends, the next token request tries them.
    void credentials_replaced();

    // ---- following actions ----
    // Where the next listing should start (creationDateTimeUtc), or nullopt
    // when no tracked session has an action on the server.
    std::optional<Millis> poll_since() const;
    // How often to list actions: poll_interval, or faster (within the read
    // budget) while every slot is held and sessions wait for one.
    Millis poll_every() const;
    // A listing of the tenant's actions taken at `now`.
    void on_listing(const std::vector<api::MachineAction>& actions, Millis now);
    // ---- machine health (SPEC §3 "Offline-aware") ----
    // The machines that do not look reachable at `now`, as OData filters of
    // /api/machines whose results together are the offline-looking fleet
    // (jobs::looks_offline: not Active, or no full report for
    // offline_after): two listings, whatever the number of sessions waiting.
    std::vector<std::string> offline_filters(Millis now) const;
    // Whether to list them again: every health_every() while a session of
    // this tenant waits for a machine that looked offline (queued, busy,
    // submitting or pending).
    bool health_check_due(Millis now);
    // The listing's machines, taken at `now`: a session waiting for a machine
    // not among them looks online from now on (a queued one is dispatched
    // as online, a pending one leaves the offline slots), and one waiting for
    // a machine among them looks offline.
    void on_health(const std::vector<api::Machine>& offline_now, Millis now);
    // The listing failed: try again after another period.
    void health_check_failed(Millis now) { next_health_check_ = now + health_every(); }
    // When the next check is due, while sessions wait for offline-looking
    // machines (as of the last health_check_due()).
    std::optional<Millis> next_health_check() const {
        return offline_waiting_ ? std::optional<Millis>(next_health_check_) : std::nullopt;
    }
    Millis health_every() const;

    // Submitting sessions whose outcome is unknown and are due a lookup.
    std::vector<Lookup> lookups_due(Millis now) const;
    // The actions of one machine, listed for a lookup at `now`.
    void on_lookup(std::int64_t session_id,
                   const std::vector<api::MachineAction>& actions,
                   Millis now);
    // The daemon's own backstops (queue_expiry, runscript_timeout) and run
    // deadlines; returns the actions to cancel on the server.
    std::vector<Cancel> sweep(Millis now);
    // ---- collecting results ----
    // Sessions whose results are due to be fetched now (each handed out once
    // until collected() or collect_failed() is called for it).
    std::vector<Collection> collections_due(Millis now);
    // Collection is over: the session ends per its action's status, or
    // failed (and not retried) when results were left out.
    void collected(std::int64_t session_id, const Collected& outcome, Millis now);
    // Fetching failed (link, network, disk full): tried again after a backoff;
    // the error is shown on the session meanwhile.
    void collect_failed(std::int64_t session_id, const std::string& error, Millis now);
    std::optional<Millis> next_collection() const;
    bool take_collect_wake() noexcept { return std::exchange(collect_wake_, false); }

    // The earliest instant sweep() or a lookup has work, for the shell's timer.
    std::optional<Millis> next_timed_work() const;

    // ---- control ----
    // Withdraws the queued and busy sessions of a job's runs (its file was
    // deleted); sessions on the server run to the end.
    void withdraw_job(const std::string& job, Millis now);
    void set_job_paused(const std::string& job, bool paused);
    // The operator's cancel: the job's queued and busy sessions (only
    // `machine`'s, with one) end `cancelled` at once; each session in
    // flight is marked, and its action is cancelled on the server
    // (take_cancels()) as soon as it is known: at once for a pending or
    // running one, once a submitting one's outcome is known. The session
    // then follows its action to the end (Cancelled: `cancelled`, with the
    // results of the commands that completed), and is never retried. A
    // mark lives in memory: after a restart, a session still in flight
    // runs on (the operator cancels again).
    CancelOutcome cancel_job(const std::string& job,
                             const std::optional<std::string>& machine,
                             Millis now);
    // The operator's cancels to send now; a failed one is handed back with
    // cancel_failed() and tried again at the next poll, a few times.
    std::vector<Cancel> take_cancels() { return std::exchange(operator_cancels_, {}); }
    void cancel_failed(Cancel c);

    // ---- observation ----
    bool paused() const noexcept { return paused_; }
    const std::string& paused_reason() const noexcept { return paused_reason_; }
    const limits::ConcurrencyGate& gate() const noexcept { return gate_; }
    const limits::RateLimiter& submit_limiter() const noexcept { return submits_; }
    std::size_t tracked() const noexcept { return tracked_.size(); }
    std::size_t runs() const noexcept { return runs_.size(); }
    // Set when a slot was freed or work queued since the last call; the
    // shell then wakes the dispatch loop.
    bool take_wake() noexcept { return std::exchange(wake_, false); }

  private:
    struct Tracked {
        std::int64_t run_id = 0;
        std::string machine_id;
        std::string computer_dns_name;
        SessionState state = SessionState::submitting;
        bool looks_offline = false;
        std::string action_id;
        std::int64_t submissions = 0;
        Millis submitted_at = 0;  // the current submission began (its action came after)
        // The submit call ended: from here the listing's lag is counted, so
        // a slow call does not eat into it. After a restart: the restart.
        Millis answered_at = 0;
        Millis since = 0;  // entered the current state
        // Outcome unknown: look the tag up (Lookup) until found or the
        // listing's lag has passed.
        std::optional<Millis> lookup_at;
        SessionState if_absent = SessionState::queued;  // when the lookup proves it absent
        // collecting: the ended action, and when its results are next fetched
        // (nullopt while a fetch is under way).
        std::optional<api::MachineAction> action;
        std::optional<Millis> collect_at;
        int collect_failures = 0;

        // The session's stored fields (times and lookups are the caller's).
        void take(const SessionRow& row) {
            run_id = row.run_id;
            machine_id = row.machine_id;
            computer_dns_name = row.computer_dns_name.value_or("");
            state = row.state;
            looks_offline = row.looks_offline;
            action_id = row.action_id.value_or("");
            submissions = row.submissions;
        }
    };

    const RunPlan* plan_of(std::int64_t run_id) const;
    std::optional<SessionRow> pick(Millis now, std::optional<Millis>& wake);
    // `may_retry`: a failed or expired end is queued again per the job's
    // retry policy (false when another attempt cannot help).
    Result<SessionRow> move(std::int64_t session_id,
                            SessionState to,
                            const store::TransitionDetail& detail,
                            Millis now,
                            bool may_retry = true);
    void after_move(const SessionRow& row, SessionState from, Millis now, bool may_retry = true);
    void adopt(std::int64_t session_id, const api::MachineAction& action, Millis now);
    void start_collecting(std::int64_t session_id, const api::MachineAction& action, Millis now);
    void handle_rejection(const RunPlan& plan, const api::SubmitResult& r);
    void throttle(Millis until, Millis now);
    void requeue_busy(Millis now);
    bool offline_sessions_waiting();
    // collecting for longer than collect_timeout: failed, not retried.
    void collect_timed_out(std::int64_t session_id, Millis now);
    void log_error(const std::string& what, const Error& e) const;
    bool has_queued();
    // A session the operator cancelled moved to row.state: a waiting one is
    // cancelled now, an action in flight has its cancel handed out. True
    // when that move replaced the rest of after_move.
    bool after_cancel(const SessionRow& row, Millis now);

    store::Store& store_;
    const config::Tenant& tenant_;
    std::string install_id_;
    limits::ConcurrencyGate gate_;
    limits::RateLimiter submits_;
    Draw draw_;
    std::map<std::int64_t, RunPlan> runs_;     // by run id: this tenant's unfinished runs
    std::map<std::int64_t, Tracked> tracked_;  // by session id
    std::set<std::int64_t> deadline_handled_;  // runs whose waiting sessions gave up
    std::map<std::string, bool> job_paused_;   // by job name
    std::set<std::int64_t> cancel_wanted_;     // sessions the operator cancelled while in flight
    std::set<std::int64_t> cancel_sent_;       // ... whose action's cancel is handed out
    std::vector<Cancel> operator_cancels_;     // cancels to send (take_cancels)
    std::map<std::string, std::pair<std::string, int>> rejections_;  // job -> (reason, streak)
    bool paused_ = false;
    std::string paused_reason_;
    Millis throttled_until_ = 0;
    Millis loaded_at_ = 0;  // load(): a submit in flight before it ended then at the latest
    Millis next_health_check_ = 0;
    bool offline_waiting_ = true;  // a session waits for an offline-looking machine
    int throttles_in_a_row_ = 0;
    int unauthorized_in_a_row_ = 0;
    bool wake_ = false;
    bool collect_wake_ = false;
    bool slots_wanted_ = false;  // the last next() found every slot held and work waiting
};

}  // namespace lrsched::dispatch
