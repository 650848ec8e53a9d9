// The daemon's event loops. Everything runs on one io_context thread: the
// store, the dispatchers and the HTTPS clients need no locks. Each loop
// sleeps on an Event (a timer that notify() cancels) until its next timed
// work or until another loop has news for it; none polls on a fixed tick
// except the job-file scan (a few stat calls every two seconds).
//
// Every coroutine that awaits the network lives here, in
// daemon_evidence.cpp, daemon_library.cpp (the Daemon class is in
// daemon_shell.hpp) or api_client.cpp: each file that includes Asio and
// Beast costs 20-30 s to compile (STYLE.md).
#include "dispatch/daemon.hpp"

#include "common/crash_point.hpp"
#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "common/text.hpp"
#include "dispatch/daemon_shell.hpp"
#include "dispatch/estimate.hpp"
#include "jobs/firing.hpp"
#include "jobs/job_parser.hpp"
#include "jobs/targets.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>

namespace lrsched::dispatch {
namespace {

namespace asio = net::asio;
using std::chrono::milliseconds;

constexpr Millis kScanEvery = 2'000;      // job files (SPEC §2: "within a few seconds")
constexpr Millis kErrorBackoff = 5'000;   // after a failed read or token request
constexpr Millis kResolveRetry = 30'000;  // a run whose start failed (listing, store) tries again
constexpr Millis kStopGrace = 4'000;      // SIGTERM: calls in flight get this long
constexpr Millis kPruneEvery = 600'000;   // api_calls rows older than every window go

Millis to_ms(jobs::TimePoint t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

namespace shell {

Result<void> Daemon::set_up() {
    const Millis now = unix_now();
    const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
    for (const auto& c : cfg_.tenants) {
        auto rt = std::make_unique<TenantRt>(io_, c);
        auto secret = config::read_client_secret(c, creds ? creds : "");
        if (!secret) return std::move(secret).error();
        auto http = net::HttpsClient::create(io_, {c.ca_file, "lrsched/0.1"});
        if (!http) return std::move(http).error();
        rt->http = std::move(*http);
        api::TokenSettings ts{c.name, c.login_base, c.tenant_id, c.client_id, c.scope, {}};
        rt->tokens = std::make_unique<api::TokenProvider>(io_, *rt->http, ts, std::move(*secret));
        rt->api = std::make_unique<ApiClient>(io_, *rt->http, *rt->tokens, c, store_);
        if (auto r = rt->api->load(now); !r) return r;
        rt->dispatcher = std::make_unique<Dispatcher>(store_, c);
        if (auto r = rt->dispatcher->load(now); !r) return r;
        if (!c.library_dir.empty()) rt->library_dir = std::make_unique<LibraryDir>(c.library_dir);
        tenants_.push_back(std::move(rt));
    }
    // Jobs that were waiting for the library before a restart look again now.
    auto jobs = store_.list_jobs();
    if (!jobs) return std::move(jobs).error();
    for (const auto& j : *jobs)
        if (TenantRt* t = tenant(j.tenant);
            t && j.paused && api::is_library_pause(j.paused_reason.value_or("")))
            t->library_recheck_at = now;
    auto runs = store_.unfinished_runs();
    if (!runs) return std::move(runs).error();
    for (const auto& r : *runs)
        if (!r.run.resolved_at) unresolved_.push_back(r.run.id);
    // Job files before any loop starts: a job deleted while the daemon was
    // down has its queued sessions withdrawn before one could be submitted,
    // and a pause stays unless the file changed.
    scan_jobs(now);
    return ok();
}

void Daemon::spawn(std::function<asio::awaitable<void>()> make, std::string name) {
    ++loops_;
    auto loop = make();
    asio::co_spawn(
        io_, std::move(loop),
        [this, make = std::move(make), name = std::move(name)](const std::exception_ptr& e) {
            --loops_;
            if (e && !stopping_) {
                // A loop never ends on an error: what one job or session did
                // to it is logged (once per message) and the loop starts
                // again after a pause; its state lives in the store and the
                // dispatchers, not in the coroutine.
                std::string what = "unknown exception";
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    what = ex.what();
                } catch (...) {
                }
                if (loop_failures_[name] != what)
                    spdlog::error("loop {} failed, restarting in {} ms: {}", name, kErrorBackoff,
                                  log_error(what));
                loop_failures_[name] = what;
                auto timer = std::make_shared<asio::steady_timer>(io_, milliseconds(kErrorBackoff));
                ++loops_;
                timer->async_wait([this, timer, make, name](boost::system::error_code) {
                    --loops_;
                    if (!stopping_) spawn(make, name);
                    if (loops_ == 0) io_.stop();
                });
            }
            if (loops_ == 0) io_.stop();
        });
}

void Daemon::stop() {
    if (stopping_) return;
    stopping_ = true;
    spdlog::info("stopping: no new submits; calls in flight get {} ms", kStopGrace);
    signals_.cancel();
    jobs_event_.notify();
    for (auto& t : tenants_) {
        t->dispatch.notify();
        t->track.notify();
        t->collect.notify();
    }
    // Whatever is still in flight then is left to reconciliation at the
    // next start: its session is durably `submitting`.
    auto guard = std::make_shared<asio::steady_timer>(io_, milliseconds(kStopGrace));
    guard->async_wait([this, guard](boost::system::error_code) { io_.stop(); });
}

int Daemon::run() {
    spawn([this] { return signal_loop(); }, "signals");
    spawn([this] { return jobs_loop(); }, "jobs");
    for (auto& t : tenants_) {
        TenantRt* rt = t.get();
        spawn([this, rt] { return dispatch_loop(rt); }, "dispatch " + t->cfg.name);
        spawn([this, rt] { return track_loop(rt); }, "track " + t->cfg.name);
        spawn([this, rt] { return collect_loop(rt); }, "collect " + t->cfg.name);
    }
    spdlog::info("lrsched daemon started: {} tenant(s), jobs in {}, store {}", tenants_.size(),
                 log_value(cfg_.jobs_dir), log_value(cfg_.state_dir));
    io_.run();
    spdlog::info("lrsched daemon stopped");
    return 0;
}

asio::awaitable<void> Daemon::signal_loop() {
    while (!stopping_) {
        auto [ec, sig] = co_await signals_.async_wait(net::kUseTuple);
        if (ec) break;
        if (sig == SIGHUP) {
            spdlog::info("SIGHUP: re-reading job files");
            rescan_ = true;
            jobs_event_.notify();
            continue;
        }
        spdlog::info("signal {}: stopping", sig);
        stop();
    }
}

void Daemon::wake_dispatch_if_needed(TenantRt* t) {
    if (t->dispatcher->take_wake()) t->dispatch.notify();
}

asio::awaitable<void> Daemon::dispatch_loop(TenantRt* t) {
    Dispatcher& d = *t->dispatcher;
    const Reachability& reach = t->api->reachability();
    while (!stopping_) {
        // While the API gives no answer, nothing leaves before the backoff
        // has passed, whoever wakes this loop.
        if (reach.failing() && unix_now() < reach.retry_at()) {
            co_await t->dispatch.wait(reach.retry_at());
            continue;
        }
        std::string token;
        if (!d.paused()) {
            auto tok = co_await t->tokens->token();
            if (stopping_) break;
            if (!tok) {
                if (tok.error().code == make_error_code(Errc::permission_denied))
                    d.token_refused(tok.error().message);
                else
                    t->api->token_failed(tok.error());
                continue;
            }
            token = std::move(*tok);
        }
        auto next = d.next(unix_now());
        (void)d.take_wake();  // next() saw its own changes
        if (auto* submit = std::get_if<Submit>(&next)) {
            const SubmitAnswer answer =
                co_await t->api->submit(submit->machine_id, submit->body, token);
            const FollowUp f = d.submit_answered(*submit, answer, call_end_now());
            if (f == FollowUp::refresh_token) (void)co_await t->tokens->token(token);
            t->track.notify();
            continue;
        }
        const Idle& idle = std::get<Idle>(next);
        t->track.notify();  // it may poll sooner now (Dispatcher::poll_every)
        spdlog::debug("tenant={} idle: {}", t->cfg.name, idle.why);
        co_await t->dispatch.wait(idle.wake_at);
    }
}

asio::awaitable<void> Daemon::track_loop(TenantRt* t) {
    Dispatcher& d = *t->dispatcher;
    const Millis interval = t->cfg.poll_interval.count();
    Millis last_poll = 0;
    const Reachability& reach = t->api->reachability();
    std::string last_error;  // logged once while it repeats
    while (!stopping_) {
        if (reach.failing() && unix_now() < reach.retry_at()) {
            co_await t->track.wait(reach.retry_at());
            continue;
        }
        std::optional<Millis> backoff;
        const auto failed = [&](const Error& e) {
            if (e.code == make_error_code(Errc::permission_denied)) d.token_refused(e.message);
            // An outage is logged by the client, at its start and its end.
            if (!reach.failing() && e.message != last_error)
                spdlog::warn("tenant={} {}", t->cfg.name, e.message);
            last_error = e.message;
            backoff = unix_now() + std::min(interval, kErrorBackoff);
        };
        for (const Lookup& l : d.lookups_due(unix_now())) {
            const Millis sent = unix_now();
            auto actions =
                co_await t->api->list_actions("machineId eq " + api::odata_string(l.machine_id));
            if (stopping_) co_return;
            if (!actions) {
                failed(actions.error());
                break;
            }
            d.on_lookup(l.session_id, *actions, sent);
        }
        const auto since = d.poll_since();
        if (since && !backoff && unix_now() >= last_poll + d.poll_every()) {
            const Millis sent = unix_now();
            auto actions = co_await t->api->list_actions(
                "creationDateTimeUtc ge " + utc_iso8601(*since - t->cfg.clock_skew.count()));
            if (stopping_) co_return;
            last_poll = sent;
            if (actions) {
                d.on_listing(*actions, sent);
                last_error.clear();
            } else {
                failed(actions.error());
            }
        }
        if (!backoff && d.health_check_due(unix_now())) {
            std::vector<api::Machine> offline;
            for (const std::string& filter : d.offline_filters(unix_now())) {
                auto listed = co_await t->api->list_machines(filter);
                if (stopping_) co_return;
                if (!listed) {
                    failed(listed.error());
                    break;
                }
                offline.insert(offline.end(), std::make_move_iterator(listed->begin()),
                               std::make_move_iterator(listed->end()));
            }
            if (backoff)
                d.health_check_failed(unix_now());
            else
                d.on_health(offline, unix_now());
        }
        for (const Cancel& c : d.sweep(unix_now())) {
            auto r = co_await t->api->cancel(c.action_id, "lrsched: " + c.reason);
            if (!r) spdlog::warn("tenant={} {}", t->cfg.name, r.error().message);
        }
        wake_dispatch_if_needed(t);
        if (d.take_collect_wake()) t->collect.notify();
        std::optional<Millis> wake = d.next_timed_work();
        if (const auto health = d.next_health_check())
            wake = std::min(wake.value_or(*health), *health);
        if (d.poll_since()) {
            const Millis next_poll = last_poll + d.poll_every();
            wake = std::min(wake.value_or(next_poll), next_poll);
        }
        if (backoff) wake = std::max(wake.value_or(*backoff), *backoff);
        co_await t->track.wait(wake);
    }
}

// ---- job files, firings and runs ----

asio::awaitable<void> Daemon::jobs_loop() {
    Millis next_scan = 0;
    Millis next_prune = 0;
    while (!stopping_) {
        Millis now = unix_now();
        if (rescan_ || now >= next_scan) {
            scan_jobs(now);
            next_scan = now + kScanEvery;
            rescan_ = false;
        }
        if (now >= next_prune) {
            prune_api_calls(now);
            next_prune = now + kPruneEvery;
        }
        std::optional<Millis> wake = fire_jobs(now, first_firing_);
        first_firing_ = false;
        for (const std::int64_t run : std::vector<std::int64_t>(unresolved_)) {
            const auto after = resolve_after_.find(run);
            if (after != resolve_after_.end() && after->second > unix_now()) {
                wake = std::min(wake.value_or(after->second), after->second);
                continue;
            }
            co_await resolve_guarded(run);
            if (stopping_) co_return;
        }
        for (const auto& t : tenants_) {
            if (t->library_recheck_at && *t->library_recheck_at <= unix_now()) {
                co_await recheck_library(t.get());
                if (stopping_) co_return;
            }
            if (t->library_recheck_at)
                wake = std::min(wake.value_or(*t->library_recheck_at), *t->library_recheck_at);
        }
        wake = std::min(wake.value_or(next_scan), next_scan);
        co_await jobs_event_.wait(wake);
    }
}

void Daemon::prune_api_calls(Millis now) {
    // Rows count only inside the longest window of any tenant's limits.
    Millis longest = 0;
    for (const auto& t : cfg_.tenants) {
        longest = std::max<Millis>(longest, t.limits.submit_rate.per.count());
        for (const auto& r : t.limits.read_rate)
            longest = std::max<Millis>(longest, r.per.count());
    }
    auto n = store_.prune_api_calls(now - longest);
    if (!n)
        spdlog::warn("pruning api_calls: {}", n.error().message);
    else if (*n > 0)
        spdlog::debug("pruned {} api_calls rows", *n);
}

// A job's row as the store keeps it when no version of its file was ever
// valid: the name shows in `status` with the file's error, nothing fires.
// JSON null in `definition` says "never loaded".
constexpr std::string_view kNeverLoaded = "null";

void Daemon::job_failed(const std::string& job, const std::string& what, Millis now) {
    const std::string error = "internal error while handling the job: " + what;
    if (job_failures_[job] != error) {
        spdlog::error("job={} {}; the other jobs go on", job, error);
        job_failures_[job] = error;
    }
    show_job_error(job, error, now);
}

void Daemon::show_job_error(const std::string& name, const std::string& error, Millis now) {
    // A job never loaded still gets a row, so that `status` shows why its
    // file does not run; a row with a valid definition keeps it (its runs,
    // its last firing).
    auto existing = store_.find_job(name);
    if (!existing) {
        spdlog::error("job={} cannot be read from the store: {}", name, existing.error().message);
        return;
    }
    if ((!*existing || (*existing)->deleted_at) && is_name(name)) {
        store::JobRow row;
        row.name = name;
        row.definition = std::string(kNeverLoaded);
        row.loaded_at = now;
        if (auto r = store_.upsert_job(row); !r) {
            spdlog::error("job={} cannot be stored: {}", name, r.error().message);
            return;
        }
    }
    (void)store_.set_job_error(name, error, now);  // not_found: a path, not a job name
}

void Daemon::scan_jobs(Millis now) {
    const jobs::ScanReport report = registry_.scan();
    // No lambda captures a structured binding: clang 14 (clang-tidy) refuses it.
    for (const auto& refused : report.refused)
        for_job(refused.first, now, [&] { job_refused(refused.first, refused.second, now); });
    for (const auto& w : report.warnings)
        spdlog::warn("{}", w);
    for (const auto& name : report.changed)
        for_job(name, now, [&] { job_changed(name, now); });
    if (!report.listed) return;  // an unreadable jobs_dir removes nothing
    // The store's jobs squared with jobs_dir: this also catches what was
    // deleted while the daemon was down (the registry starts empty).
    auto stored = store_.list_jobs();
    if (!stored) {
        spdlog::error("jobs cannot be read from the store: {}", stored.error().message);
        return;
    }
    for (const auto& row : *stored)
        if (!row.deleted_at && !report.present.contains(row.name))
            for_job(row.name, now, [&] { job_removed(row, now); });
}

void Daemon::job_refused(const std::string& name, const std::string& text, Millis now) {
    // The registry reports a file once per change of it; a clash of two
    // files for one name comes back every scan, hence the memory.
    const bool fresh = refused_logged_[name] != text;
    refused_logged_[name] = text;
    const bool in_force = registry_.find(name) != nullptr;
    if (fresh)
        spdlog::error("job={} refused ({}): {}", log_value(name),
                      in_force ? "its last valid version stays in force" : "not loaded",
                      log_error(text));
    show_job_error(name, text, now);
}

void Daemon::job_changed(const std::string& name, Millis now) {
    const jobs::LoadedJob* lj = registry_.find(name);
    if (!lj) return;
    refused_logged_.erase(name);
    job_failures_.erase(name);
    auto existing = store_.find_job(name);
    if (!existing) {
        spdlog::error("job={} cannot be stored: {}", name, existing.error().message);
        return;
    }
    const store::JobRow* before =
        *existing && !(*existing)->deleted_at && (*existing)->definition != kNeverLoaded
            ? &**existing
            : nullptr;
    store::JobRow row;
    row.name = name;
    row.tenant = lj->job.tenant;
    row.definition = lj->definition;
    row.source_path = lj->job.source_path;
    row.source_sha256 = lj->sha256;
    row.loaded_at = before ? before->loaded_at : now;  // the first load, for firings
    if (auto r = store_.upsert_job(row); !r) {
        spdlog::error("job={} cannot be stored: {}", name, r.error().message);
        return;
    }
    (void)store_.set_job_error(name, std::nullopt, now);
    // A restart reads every file again: only a file whose content changed
    // lifts a pause (the operator's edit is the answer to it). One waiting
    // for the library looks at it again at once, and resumes only if the
    // files are there: unpaused blindly, its sessions would be rejected.
    const bool edited = !before || before->source_sha256 != lj->sha256;
    if (before && before->paused && edited) {
        TenantRt* t = tenant(lj->job.tenant);
        if (api::is_library_pause(before->paused_reason.value_or(""))) {
            if (t) t->library_recheck_at = now;
        } else {
            (void)store_.set_job_paused(name, false, "");
            spdlog::info("job={} resumed: its file changed", name);
            if (t) {
                t->dispatcher->set_job_paused(name, false);
                wake_dispatch_if_needed(t);
            }
        }
    }
    if (edited) spdlog::info("job={} loaded from {}", name, log_value(lj->job.source_path));
}

void Daemon::job_removed(const store::JobRow& job, Millis now) {
    refused_logged_.erase(job.name);
    job_failures_.erase(job.name);
    store::JobRow row = job;
    row.deleted_at = now;
    if (auto r = store_.upsert_job(row); !r) {
        spdlog::error("job={} cannot be marked deleted: {}", job.name, r.error().message);
        return;
    }
    // Runs whose targets are not resolved yet end in resolve(), which sees
    // deleted_at; sessions already on the server run to the end.
    if (TenantRt* t = tenant(row.tenant)) {
        t->dispatcher->withdraw_job(job.name, now);
        wake_dispatch_if_needed(t);
    }
    spdlog::info("job={} file deleted: queued sessions withdrawn", job.name);
}

std::optional<Millis> Daemon::fire_jobs(Millis now, bool at_startup) {
    std::optional<Millis> wake;
    for (const auto& entry : registry_.jobs())
        for_job(entry.first, now, [&] {
            if (auto at = fire_job(entry.second, now, at_startup))
                wake = std::min(wake.value_or(*at), *at);
        });
    return wake;
}

std::optional<Millis> Daemon::fire_job(const jobs::LoadedJob& lj, Millis now, bool at_startup) {
    fail_point("jobs.fire", lj.job.name);
    const std::string& name = lj.job.name;
    auto row = store_.find_job(name);
    if (!row || !*row || (*row)->deleted_at) return std::nullopt;
    const std::int64_t job_id = (*row)->id;
    if (!lj.job.scheduled()) {
        auto last = store_.latest_run(job_id);
        if (last && !*last) start_run(lj, job_id, store::RunTrigger::first_load, {}, {}, now);
        return std::nullopt;
    }
    jobs::FiringInput in;
    if ((*row)->last_fired_at)
        in.last_fired = jobs::TimePoint{milliseconds(*(*row)->last_fired_at)};
    in.first_loaded = jobs::TimePoint{milliseconds((*row)->loaded_at)};
    in.now = jobs::TimePoint{milliseconds(now)};
    in.at_startup = at_startup;
    in.catch_up = lj.job.schedule.catch_up;
    const auto decision = jobs::decide_firing(*lj.job.schedule.cron, lj.job.schedule.tz, in);
    std::optional<Millis> fired;
    if (decision.mark_fired) fired = to_ms(*decision.mark_fired);
    bool ran = false;
    if (decision.run_for) {
        bool overlap = false;
        if (lj.job.schedule.overlap == jobs::Overlap::skip) {
            auto last = store_.latest_run(job_id);
            if (last && *last && !(*last)->finished_at) {
                auto counts = store_.count_by_state((*last)->id);
                overlap =
                    !(*last)->resolved_at || (counts && ((*counts)[store::SessionState::queued] +
                                                         (*counts)[store::SessionState::busy]) > 0);
            }
        }
        if (overlap) {
            spdlog::info("job={} firing skipped: the last run still has queued sessions", name);
        } else {
            // The run and the firing's record are one commit (schema/005).
            start_run(lj, job_id,
                      decision.catch_up_run ? store::RunTrigger::catch_up : store::RunTrigger::cron,
                      to_ms(*decision.run_for), fired, now);
            ran = true;
        }
    }
    if (fired && !ran) {
        if (auto r = store_.set_job_last_fired(name, *fired); !r)
            spdlog::error("job={} firing not recorded: {}", name, r.error().message);
    }
    if (decision.next_wake) return to_ms(*decision.next_wake);
    return std::nullopt;
}

void Daemon::start_run(const jobs::LoadedJob& lj,
                       std::int64_t job_id,
                       store::RunTrigger trigger,
                       std::optional<Millis> scheduled_for,
                       std::optional<Millis> mark_fired,
                       Millis now) {
    store::NewRun run;
    run.job_id = job_id;
    run.definition = lj.definition;
    run.trigger = trigger;
    run.scheduled_for = scheduled_for;
    run.mark_fired = mark_fired;
    run.created_at = now;
    if (lj.job.deadline) run.deadline_at = now + lj.job.deadline->count();
    auto id = store_.create_run(run);
    if (!id) {
        spdlog::error("job={} run cannot be created: {}", lj.job.name, id.error().message);
        return;
    }
    if (!*id) {
        spdlog::info("job={} firing for {} skipped: it already has its run", lj.job.name,
                     utc_iso8601(scheduled_for.value_or(0)));
        return;
    }
    crash_point("jobs.after_firing");
    spdlog::info("job={} run={} state=created trigger={}", lj.job.name, **id,
                 store::to_string(trigger));
    unresolved_.push_back(**id);
}

asio::awaitable<void> Daemon::resolve_guarded(std::int64_t run_id) {
    // What resolve() throws stays with its job; the run is tried again later.
    std::string failure;
    try {
        co_await resolve(run_id);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (failure.empty()) co_return;
    const Millis now = unix_now();
    resolve_after_[run_id] = now + kResolveRetry;
    auto job = store_.job_of_run(run_id);
    job_failed(job && *job ? **job : "run=" + std::to_string(run_id), failure, now);
}

bool Daemon::withdraw_if_deleted(const store::ActiveRun& active, Millis now) {
    auto job = store_.find_job(active.job_name);
    if (!job || !*job || !(*job)->deleted_at) return false;
    if (auto r = store_.mark_run_resolved(active.run.id, std::nullopt, now); !r) {
        spdlog::error("job={} run={}: {}", active.job_name, active.run.id, r.error().message);
        return false;
    }
    (void)store_.finish_run_if_done(active.run.id, now);
    spdlog::info(
        "job={} run={} state=withdrawn: the job file was deleted before its targets "
        "were resolved",
        active.job_name, active.run.id);
    return true;
}

asio::awaitable<void> Daemon::resolve(std::int64_t run_id) {
    const auto drop = [&] {
        unresolved_.erase(std::remove(unresolved_.begin(), unresolved_.end(), run_id),
                          unresolved_.end());
        resolve_after_.erase(run_id);
    };
    auto runs = store_.unfinished_runs();
    if (!runs) co_return;
    const auto it = std::find_if(runs->begin(), runs->end(),
                                 [&](const store::ActiveRun& r) { return r.run.id == run_id; });
    if (it == runs->end()) co_return drop();
    store::ActiveRun active = *it;
    fail_point("jobs.resolve", active.job_name);
    if (withdraw_if_deleted(active, unix_now())) co_return drop();
    TenantRt* t = tenant(active.tenant);
    auto plan = plan_from_definition(run_id, active.run.definition);
    if (!t || !plan) {
        spdlog::error("job={} run={} cannot start: {}", active.job_name, run_id,
                      plan ? "tenant " + log_value(active.tenant) + " is not configured"
                           : plan.error().message);
        resolve_after_[run_id] = unix_now() + 60'000;
        co_return;
    }
    // The library first: a run that cannot be checked (network, 5xx, 429
    // after the client's retries) is not queued yet, and is tried again
    // like a failed machine listing: its row keeps the firing, nothing is
    // lost, and no session is sent to be rejected meanwhile. Sooner under
    // compressed test limits (ten polls). Without library_dir and without
    // PutFile or RunScript there is nothing to check.
    std::optional<std::vector<api::LibraryFile>> library;
    if (t->library_dir || api::uses_library(plan->commands)) {
        auto listed = co_await sync_library(t);
        if (stopping_) co_return;
        if (listed) {
            library = std::move(*listed);
        } else if (listed.error().code == make_error_code(Errc::permission_denied)) {
            // An app without Library.Manage may still run live responses:
            // the run starts unchecked (a missing script then pauses the job
            // after repeated rejections). Bad credentials stop the machine
            // listing below and pause the tenant there.
            if (t->library_noted.insert("permission").second)
                spdlog::warn("tenant={} runs start without the library check: {}", t->cfg.name,
                             listed.error().message);
        } else {
            spdlog::warn(
                "job={} run={} not started yet: the live response library was not "
                "checked: {}",
                active.job_name, run_id, listed.error().message);
            resolve_after_[run_id] =
                unix_now() + std::min(kResolveRetry, library_recheck_every(t->cfg));
            co_return;
        }
    }
    const Millis asked = unix_now();
    auto fleet = co_await t->api->list_machines();
    if (stopping_) co_return;
    const Millis now = unix_now();
    if (!fleet) {
        if (fleet.error().code == make_error_code(Errc::permission_denied))
            t->dispatcher->token_refused(fleet.error().message);
        const Reachability& reach = t->api->reachability();
        if (!reach.failing())  // an outage is logged once, by the client
            spdlog::warn("job={} run={} targets not resolved yet: {}", active.job_name, run_id,
                         fleet.error().message);
        resolve_after_[run_id] =
            std::max(now + kResolveRetry, reach.failing() ? reach.retry_at() : 0);
        co_return;
    }
    // The file may have gone while the listing was under way.
    if (withdraw_if_deleted(active, now)) co_return drop();
    jobs::Resolution res = jobs::resolve_targets(plan->targets, std::move(*fleet));
    // The machines' strings move into the sessions, and the machines go
    // before the store's inserts: a 10^5-target run holds one copy.
    std::vector<store::NewSession> sessions;
    sessions.reserve(res.machines.size());
    std::size_t offline = 0;
    for (auto& m : res.machines) {
        const bool off = jobs::looks_offline(m, now, t->cfg.offline_after.count());
        offline += off ? 1 : 0;
        sessions.push_back({std::move(m.id), std::move(m.computer_dns_name), off});
    }
    res.machines = {};
    std::optional<std::string> unresolved;
    if (!res.unknown_ids.empty() || !res.unknown_hostnames.empty())
        unresolved =
            nlohmann::json{{"ids", res.unknown_ids}, {"hostnames", res.unknown_hostnames}}.dump();
    auto queued = store_.queue_sessions(run_id, sessions, now);
    if (queued) {
        if (auto r = store_.mark_run_resolved(run_id, unresolved, unix_now()); !r)
            queued = r.error();
    }
    if (!queued) {
        spdlog::error("job={} run={} sessions not queued: {}", active.job_name, run_id,
                      queued.error().message);
        resolve_after_[run_id] = now + kResolveRetry;
        co_return;
    }
    spdlog::info(
        "job={} run={} state=resolved targets={} looks_offline={} excluded={} unknown={} "
        "listing_ms={} queueing_ms={}",
        active.job_name, run_id, sessions.size(), offline, res.excluded,
        res.unknown_ids.size() + res.unknown_hostnames.size(), now - asked, unix_now() - now);
    active.run.resolved_at = now;
    // Paused (or resumed) before the dispatcher sees the run's sessions.
    if (library) apply_library(t, active.job_name, *library, now);
    if (auto r = t->dispatcher->add_run(active); !r)
        spdlog::error("job={} run={}: {}", active.job_name, run_id, r.error().message);
    drop();
    t->dispatch.notify();
    t->track.notify();
}

}  // namespace shell

namespace {

bool set_up_logging(const config::LogConfig& log) {
    std::shared_ptr<spdlog::logger> logger;
    try {
        if (log.file.empty())
            logger = spdlog::stderr_logger_st("lrsched");
        else
            logger = spdlog::basic_logger_st("lrsched", log.file);
    } catch (const spdlog::spdlog_ex& e) {
        std::fprintf(stderr, "lrsched: log file %s: %s\n", quote_value(log.file, 200).c_str(),
                     escape_log_message(e.what()).c_str());
        return false;
    }
    // Escapes what any call site let through (log_text.hpp): no message
    // can start a new line or send a terminal sequence.
    logger->set_formatter(text_log_formatter());
    logger->set_level(spdlog::level::from_str(log.level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    if (log.format == config::LogFormat::json)
        spdlog::warn("log.format json is not implemented yet: logging text");
    return true;
}

}  // namespace

namespace {

std::string human_ms(Millis ms) {
    const Millis s = ms / 1000;
    char buf[48];
    if (s >= 86400)
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                      static_cast<long long>(s % 86400 / 3600));
    else if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                      static_cast<long long>(s % 3600 / 60));
    else if (s >= 60)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
    else
        std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

// The estimate printed by `plan` (dispatch/estimate.hpp's model): submits
// paced by the rate, online sessions through the slots the offline ones
// leave at the measured session time (`samples`: the job's last runs, else
// the tenant's recent sessions, else the documented 2 minutes, and it says
// which), offline-looking ones through offline_slots.
void print_estimate(const config::Tenant& t,
                    const store::SessionSamples& samples,
                    std::size_t online,
                    std::size_t offline) {
    const SessionTimes times = session_times(samples);
    RunWork work;
    work.queued_online = static_cast<std::int64_t>(online);
    work.queued_offline = static_cast<std::int64_t>(offline);
    const Estimate e = estimate_run(work, times, limits_of(t.limits), unix_now());
    const auto& l = t.limits;
    if (e.blocked == Blocked::no_offline_slots) {
        std::printf(
            "estimate: none: offline_slots is 0, so the %zu offline-looking machine(s) would "
            "never be submitted (%s)\n",
            offline, describe(times).c_str());
        return;
    }
    std::printf("estimate: %s, %s\n", human_ms(e.duration).c_str(), describe(times).c_str());
    std::printf("  submits: %zu at %lld per %s, the last after %s\n", online + offline,
                static_cast<long long>(l.submit_rate.calls),
                human_ms(l.submit_rate.per.count()).c_str(), human_ms(e.submits).c_str());
    if (online > 0)
        std::printf("  online: %zu session(s) through %d of %d slot(s), done after %s\n", online,
                    e.online_slots, l.concurrent_sessions, human_ms(e.online).c_str());
    if (offline == 0) return;
    const std::string each = e.offline_measured
                                 ? human_ms(e.offline_each) + " each (measured)"
                                 : "up to " + human_ms(e.offline_each) + " each (queue_expiry)";
    if (l.pending_counts_as_running)
        std::printf("  offline-looking: %zu through %d offline slot(s), %s, done after %s\n",
                    offline, l.offline_slots, each.c_str(), human_ms(e.offline).c_str());
    else
        std::printf(
            "  offline-looking: %zu waiting side by side (pending holds no slot), %s, "
            "done after %s\n",
            offline, each.c_str(), human_ms(e.offline).c_str());
}

// What the run would find in the live response library, counting what
// library_dir would upload at its start (without uploading anything).
asio::awaitable<void> plan_library(ApiClient* api, const config::Tenant* t, const jobs::Job* job) {
    auto library = co_await api->list_library();
    if (!library) {
        std::printf("library: not checked: %s\n", library.error().message.c_str());
        co_return;
    }
    if (!t->library_dir.empty()) {
        LibraryDir dir(t->library_dir);
        if (auto scan = dir.scan()) {
            const auto uploads = api::uploads_needed(scan->files, *library);
            for (const std::size_t i : uploads) {
                const api::LocalFile& f = scan->files[i];
                std::printf("library: %s from library_dir would be uploaded at the run's start\n",
                            f.name.c_str());
                api::record_upload(*library, {f.name, f.sha256});
            }
            for (const auto& skipped : scan->skipped)
                std::printf("library: %s in library_dir is skipped: %s\n",
                            quote_value(skipped.name).c_str(), skipped.why.c_str());
        } else {
            std::printf("library: library_dir not read: %s\n", scan.error().message.c_str());
        }
    }
    const auto missing = api::missing_from_library(job->commands, *library);
    if (missing.empty())
        std::printf("library: every PutFile and RunScript file is there\n");
    else
        std::printf("library: %s; the job would be paused until they are there\n",
                    api::library_pause_reason(t->name, missing).c_str());
}

struct PlanOutcome {
    int status = 1;
};

asio::awaitable<void> plan_run(ApiClient* api,
                               const config::Tenant* t,
                               const jobs::Job* job,
                               const store::SessionSamples* samples,
                               PlanOutcome* out) {
    auto fleet = co_await api->list_machines();
    if (!fleet) {
        std::fprintf(stderr, "lrsched plan: %s\n", fleet.error().message.c_str());
        co_return;
    }
    const Millis now = unix_now();
    const std::size_t fleet_size = fleet->size();
    const jobs::Resolution res = jobs::resolve_targets(job->targets, std::move(*fleet));
    std::size_t offline = 0;
    for (const auto& m : res.machines)
        offline += jobs::looks_offline(m, now, t->offline_after.count()) ? 1 : 0;
    std::printf(
        "job %s (tenant %s): %zu machine(s) of %zu in the fleet; %zu look offline; %zu "
        "excluded\n",
        job->name.c_str(), t->name.c_str(), res.machines.size(), fleet_size, offline, res.excluded);
    for (const auto& id : res.unknown_ids)
        std::printf("unknown machine id: %s\n", id.c_str());
    for (const auto& h : res.unknown_hostnames)
        std::printf("unknown host name: %s\n", quote_value(h).c_str());
    print_estimate(*t, *samples, res.machines.size() - offline, offline);
    if (api::uses_library(job->commands) || !t->library_dir.empty())
        co_await plan_library(api, t, job);
    out->status = 0;
}

}  // namespace

int run_plan(const std::string& config_path, const std::string& job_ref) {
    Diagnostics diags;
    auto cfg = config::load_config(config_path, diags);
    std::fputs(diags.to_string().c_str(), stderr);
    if (!cfg) return 1;
    jobs::JobContext ctx{cfg->jobs_dir, {}};
    for (const auto& t : cfg->tenants)
        ctx.tenants.push_back(t.name);
    std::string path = job_ref;
    if (!std::filesystem::exists(path)) {
        path = cfg->jobs_dir + "/" + job_ref + ".yaml";
        if (!std::filesystem::exists(path)) path = cfg->jobs_dir + "/" + job_ref + ".yml";
    }
    Diagnostics job_diags;
    auto job = jobs::load_job(path, ctx, job_diags);
    std::fputs(job_diags.to_string().c_str(), stderr);
    if (!job) return 1;
    const config::Tenant* t = cfg->find_tenant(job->tenant);
    if (!t) {
        std::fprintf(stderr, "lrsched plan: tenant %s is not configured\n", job->tenant.c_str());
        return 1;
    }
    const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
    auto secret = config::read_client_secret(*t, creds ? creds : "");
    if (!secret) {
        std::fprintf(stderr, "lrsched plan: %s\n", secret.error().message.c_str());
        return 1;
    }
    std::filesystem::create_directories(cfg->state_dir);
    // The read budget is shared with a running daemon through the store.
    auto st = store::Store::open(store::database_path(cfg->state_dir));
    if (!st) {
        std::fprintf(stderr, "lrsched plan: %s\n", st.error().message.c_str());
        return 1;
    }
    // The estimate's measured session times, read as `status` reads them.
    store::SessionSamples samples;
    auto report = store::Report::open(store::database_path(cfg->state_dir));
    auto read = report ? report->session_samples(job->name, t->name)
                       : Result<store::SessionSamples>(report.error());
    if (read)
        samples = std::move(*read);
    else
        std::fprintf(stderr, "lrsched plan: session times not read: %s\n",
                     read.error().message.c_str());
    asio::io_context io;
    auto http = net::HttpsClient::create(io, {t->ca_file, "lrsched/0.1"});
    if (!http) {
        std::fprintf(stderr, "lrsched plan: %s\n", http.error().message.c_str());
        return 1;
    }
    api::TokenProvider tokens(io, **http,
                              {t->name, t->login_base, t->tenant_id, t->client_id, t->scope, {}},
                              std::move(*secret));
    ApiClient api(io, **http, tokens, *t, *st);
    if (auto r = api.load(unix_now()); !r) {
        std::fprintf(stderr, "lrsched plan: %s\n", r.error().message.c_str());
        return 1;
    }
    PlanOutcome out;
    asio::co_spawn(io, plan_run(&api, t, &*job, &samples, &out), [](const std::exception_ptr& e) {
        if (e) std::fputs("lrsched plan: internal error\n", stderr);
    });
    io.run();
    return out.status;
}

int run_daemon(const std::string& config_path) {
    // Evidence is what responders took off machines under investigation,
    // and the store names every target: nothing the daemon creates (state
    // folder, database, evidence, log file) is open to other local users,
    // whatever umask it was started with.
    ::umask(::umask(0) | 027);
    Diagnostics diags;
    auto cfg = config::load_config(config_path, diags);
    std::fputs(diags.to_string().c_str(), stderr);
    if (!cfg) return 1;
    if (!set_up_logging(cfg->log)) return 1;
    std::error_code ec;
    std::filesystem::create_directories(cfg->state_dir, ec);
    if (ec) {
        spdlog::critical("state_dir {}: {}", log_value(cfg->state_dir), ec.message());
        return 1;
    }
    auto st = store::Store::open(store::database_path(cfg->state_dir));
    if (!st) {
        spdlog::critical("{}", st.error().message);
        return 1;
    }
    auto daemon = std::make_unique<shell::Daemon>(std::move(*cfg), std::move(*st));
    if (auto r = daemon->set_up(); !r) {
        spdlog::critical("{}", r.error().message);
        return 1;
    }
    return daemon->run();
}

}  // namespace lrsched::dispatch
