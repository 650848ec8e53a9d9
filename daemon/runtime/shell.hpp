// The runtime's shell: the Daemon class and its per-tenant state, shared by
// the files that hold its loops and flows: daemon.cpp (start-up and
// shutdown), tenant_loops.cpp (dispatch and tracking), jobs_loop.cpp (job
// files and firings), run_start.cpp (target resolution), collector.cpp
// (results) and library.cpp (the live response library). Private to
// runtime/: nothing else includes this header. It includes Asio's core
// (net/coro.hpp), not Beast, to keep those files quick to compile.
#pragma once

#include "api/library.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "control/routes.hpp"
#include "dispatch/dispatcher.hpp"
#include "evidence/recovery.hpp"
#include "evidence/writer.hpp"
#include "jobs/registry.hpp"
#include "mde/api_client.hpp"
#include "mde/token_provider.hpp"
#include "net/control_server.hpp"
#include "net/coro.hpp"
#include "runtime/hook_command.hpp"
#include "runtime/jobs_watch.hpp"
#include "runtime/library_dir.hpp"
#include "store/report.hpp"
#include "store/store.hpp"
#include "view/live.hpp"

#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json_fwd.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::runtime {

namespace asio = net::asio;
using std::chrono::milliseconds;

// Timer as event: wait() returns at `deadline` or as soon as notify() is
// called, including a notify() that came while nobody was waiting.
class Event {
  public:
    explicit Event(asio::io_context& io) : timer_(io) {}
    void notify() {
        pending_ = true;
        timer_.cancel();
    }
    asio::awaitable<void> wait(std::optional<Millis> deadline) {
        if (!pending_) {
            if (deadline)
                timer_.expires_after(milliseconds(std::max<Millis>(0, *deadline - unix_now())));
            else
                timer_.expires_at(asio::steady_timer::time_point::max());
            co_await timer_.async_wait(net::kUseTuple);
        }
        pending_ = false;
    }

  private:
    asio::steady_timer timer_;
    bool pending_ = false;
};

// How often a job paused for a missing library file looks again: ten polls
// (5 min at the default 30 s; seconds under a test's compressed limits), one
// read call and the library_dir's uploads each time, whatever the number of
// jobs waiting.
inline Millis library_recheck_every(const config::Tenant& c) {
    return std::clamp<Millis>(policy::kLibraryRecheckPolls * c.poll_interval.count(),
                              policy::kRecheckMin, policy::kRecheckMax);
}

// The operator's pause (lrsched pause): unlike a pause after rejections,
// an edit of the job's file does not lift it; only `lrsched resume` does.
inline constexpr std::string_view kOperatorPause = "paused by the operator (lrsched pause)";

using dispatch::Cancel;
using dispatch::Collected;
using dispatch::Collection;
using dispatch::Dispatcher;
using dispatch::FollowUp;
using dispatch::Idle;
using dispatch::Lookup;
using dispatch::plan_from_definition;
using dispatch::ResultItem;
using dispatch::Submit;
using mde::Reachability;

struct TenantRt {
    TenantRt(asio::io_context& io, const config::Tenant& c)
        : cfg(c), dispatch(io), track(io), collect(io) {}
    const config::Tenant& cfg;
    std::unique_ptr<net::HttpsClient> http;
    std::unique_ptr<mde::TokenProvider> tokens;
    std::unique_ptr<mde::ApiClient> api;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<LibraryDir> library_dir;   // when library_dir is configured
    std::optional<Millis> library_recheck_at;  // jobs waiting for the library look again then
    std::set<std::string> library_noted;       // library messages logged once, not per check
    std::set<std::string> library_refused;     // "name sha256" the library refused: not re-sent
    Event dispatch;
    Event track;
    Event collect;
    Millis alive_at = 0;  // the dispatch loop last came round (the watchdog's proof of life)
    // For the metrics (view/live.hpp): results stored since start-up
    // (collector.cpp) and the last successful listing (tenant_loops.cpp).
    std::uint64_t result_files = 0;
    std::uint64_t result_bytes = 0;
    std::optional<Millis> last_poll;
};

// Logs where a tenant's certificate stands (an error once it has expired or
// before it starts, a warning in its last 30 days), at start and at reload.
// Nothing for a secret or a certificate far from its end.
void log_certificate_state(const std::string& tenant,
                           const config::Credential& credential,
                           Millis now);

class Daemon : public control::Backend {
  public:
    Daemon(config::Config cfg, store::Store store)
        : cfg_(std::move(cfg)),
          store_(std::move(store)),
          registry_(jobs::JobContext{cfg_.jobs_dir, tenant_names(cfg_)}),
          jobs_event_(io_),
          notify_event_(io_),
          signals_(io_, SIGTERM, SIGINT, SIGHUP) {}

    Result<void> set_up();
    int run();
    // The read model's live part (view/live.hpp), as of `now`.
    view::Live live(Millis now) const;

    // ---- the control API (control/routes.hpp; runtime/control.cpp) ----
    const config::Config& config() const override { return cfg_; }
    Result<view::Overview> overview(std::optional<std::string_view> job) override;
    Result<store::SessionsReport> sessions(std::string_view job,
                                           std::optional<sessions::SessionState> state) override;
    Result<control::ActionOutcome> run_now(std::string_view job) override;
    Result<control::ActionOutcome> set_paused(std::string_view job, bool paused) override;
    Result<control::ActionOutcome> cancel(std::string_view job,
                                          std::optional<std::string_view> machine) override;
    Result<control::ActionOutcome> reload() override;
    std::string metrics() override;
    const std::string& status_page() override;

  private:
    static std::vector<std::string> tenant_names(const config::Config& c) {
        std::vector<std::string> out;
        for (const auto& t : c.tenants)
            out.push_back(t.name);
        return out;
    }
    TenantRt* tenant(std::string_view name) {
        for (auto& t : tenants_)
            if (t->cfg.name == name) return t.get();
        return nullptr;
    }
    // Starts a loop made by `make`, and starts it again should it throw.
    void spawn(std::function<asio::awaitable<void>()> make, std::string name);
    std::string reload_credential(TenantRt& t, const config::Tenant& fresh);
    asio::awaitable<void> dispatch_loop(TenantRt* t);
    asio::awaitable<void> track_loop(TenantRt* t);
    asio::awaitable<void> collect_loop(TenantRt* t);
    asio::awaitable<Result<Collected>> collect(TenantRt* t, Collection c);
    asio::awaitable<Result<evidence::ArtifactWriter::Stored>> fetch(TenantRt* t,
                                                                    const Collection* c,
                                                                    const ResultItem* item,
                                                                    std::string run_dir,
                                                                    std::string machine,
                                                                    std::uint64_t cap);
    // Closing ended runs (run_close.cpp): results.jsonl, the digest,
    // retention, then the on_finish hooks, which run on their own.
    asio::awaitable<void> close_loop();
    asio::awaitable<void> close_run(std::int64_t run_id);
    asio::awaitable<void> apply_retention(const store::RunContents* closed);
    void start_hooks(store::RunContents run);
    asio::awaitable<void> run_hooks(store::RunContents run, jobs::OnFinish hooks);
    asio::awaitable<void> hooks_of_run(const store::RunContents* run, const jobs::OnFinish* hooks);
    asio::awaitable<nlohmann::json> diff_for_hooks(const store::RunContents* run);
    // Runs `f` on the worker thread (file work that would hold the io
    // thread: reading a run's results, removing folders) and resumes here.
    // nullopt when the daemon stopped first.
    template <class R>
    asio::awaitable<std::optional<R>> off_io(std::function<R()> f);
    asio::awaitable<void> jobs_loop();
    asio::awaitable<void> signal_loop();
    asio::awaitable<void> resolve(std::int64_t run_id);
    asio::awaitable<void> resolve_guarded(std::int64_t run_id);
    // A run of a job whose file was deleted before its targets were
    // resolved ends without sessions; returns whether it did.
    bool withdraw_if_deleted(const store::ActiveRun& active, Millis now);
    asio::awaitable<Result<std::vector<api::LibraryFile>>> sync_library(TenantRt* t);
    asio::awaitable<void> recheck_library(TenantRt* t);
    void apply_library(TenantRt* t,
                       const std::string& job,
                       const std::vector<api::LibraryFile>& library,
                       Millis now);
    // Runs `work` for one job: whatever it throws becomes that job's last
    // error (logged once), and the loop goes on with the other jobs.
    template <class Work>
    void for_job(const std::string& job, Millis now, Work&& work) {
        try {
            work();
        } catch (const std::exception& e) {
            job_failed(job, e.what(), now);
        }
    }
    void job_failed(const std::string& job, const std::string& what, Millis now);
    // Records `error` as the job's last error, giving a job never loaded a
    // row of its own so that `status` shows it.
    void show_job_error(const std::string& name, const std::string& error, Millis now);
    void scan_jobs(Millis now);
    void job_refused(const std::string& name, const std::string& text, Millis now);
    void job_changed(const std::string& name, Millis now);
    void job_removed(const store::JobRow& job, Millis now);
    void prune_api_calls(Millis now);
    std::optional<Millis> fire_jobs(Millis now, bool at_startup);
    std::optional<Millis> fire_job(const jobs::LoadedJob& lj, Millis now, bool at_startup);
    // Returns the run created, if one was.
    std::optional<std::int64_t> start_run(const jobs::LoadedJob& job,
                                          std::int64_t job_id,
                                          store::RunTrigger trigger,
                                          std::optional<Millis> scheduled_for,
                                          std::optional<Millis> mark_fired,
                                          Millis now);
    void stop();
    void wake_dispatch_if_needed(TenantRt* t);
    // The control API's listeners (runtime/control.cpp): false when the
    // daemon must not start (another process answers on the socket).
    // systemd's watchdog (runtime/sd_notify.hpp): pinged from the dispatch
    // loops themselves, whose waits are capped so that an idle loop still
    // comes round in time.
    void dispatch_alive(TenantRt* t);
    std::optional<Millis> watchdog_cap(std::optional<Millis> wake) const;
    // STATUS= for systemd ("3 jobs, 12 running, 480 queued, 0 paused").
    asio::awaitable<void> notify_loop();
    bool open_control();
    asio::awaitable<HttpResponse> answer(HttpRequest req);
    asio::awaitable<HttpResponse> answer_plan(control::PlanRequest req);

    asio::io_context io_;  // first: destroyed last, after everything that uses it
    // One thread for file work off the io thread (off_io); joined when the
    // Daemon goes, after cancel_work_ told it to stop reading.
    asio::thread_pool worker_{1};
    std::atomic<bool> cancel_work_{false};
    Event close_event_{io_};
    std::set<std::int64_t> hooks_running_;        // runs whose on_finish hooks are running
    std::map<std::int64_t, Millis> close_after_;  // run -> retry time after a failed close
    config::Config cfg_;
    store::Store store_;
    jobs::JobRegistry registry_;
    std::vector<std::unique_ptr<TenantRt>> tenants_;
    Event jobs_event_;
    Event notify_event_;  // wakes notify_loop (at stop)
    // jobs_dir's inotify watch: it wakes the jobs loop when a rescan is due.
    JobsWatch jobs_watch_{io_, cfg_.jobs_dir, [this] { jobs_event_.notify(); }};
    asio::signal_set signals_;
    std::optional<store::Report> report_;  // the read model's store part, a connection of its own
    std::vector<std::unique_ptr<net::ControlServer>> control_;  // the socket, and metrics.listen
    // Job files found missing while running, since when: withdrawn once
    // gone for policy::kDeleteConfirm (jobs_loop.cpp), looked at again then.
    std::map<std::string, Millis> missing_since_;
    std::optional<Millis> removal_check_at_;
    bool scanned_once_ = false;
    std::set<std::int64_t> cancelled_runs_;         // cancelled before their targets were resolved
    std::vector<std::int64_t> unresolved_;          // runs whose targets are still to resolve
    std::map<std::int64_t, Millis> resolve_after_;  // run -> retry time after a failure
    // What was last logged of a job's refused file and of an internal
    // failure handling it: each is logged once, not at every scan.
    std::map<std::string, std::string> refused_logged_;
    std::map<std::string, std::string> job_failures_;
    std::map<std::string, std::string> loop_failures_;  // by loop name: the last error logged
    // Runs collected for since start-up: their folders squared with the
    // store, and the bytes they hold. A few numbers per run.
    std::map<std::int64_t, evidence::RunTally> run_tallies_;
    // Shutdown (stop()): phase one takes no new work and lets what is in
    // flight finish; phase two cancels what is left through each loop's
    // cancellation slot. loops_ counts the loops still running (the work
    // in flight, with the restarts waiting after a failure).
    struct Flight {
        asio::cancellation_signal cancel;
        bool running = true;
    };
    std::list<Flight> flights_;
    std::set<std::shared_ptr<asio::steady_timer>> restarts_;
    std::optional<Millis> watchdog_every_;  // half of WatchdogSec=, when systemd asks for pings
    Millis watchdog_sent_ = 0;
    bool stopping_ = false;
    Millis started_at_ = 0;
    bool rescan_ = true;
    int loops_ = 0;
    bool first_firing_ = true;  // the first firing pass is the start-up's (catch_up)
};

}  // namespace lrsched::runtime
