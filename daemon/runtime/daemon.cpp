// Start-up and shutdown of the `lrsched daemon` process (SPEC §6, §7): the
// configuration, the log, the store, one client and one dispatcher per
// tenant, then the loops (tenant_loops.cpp, jobs_loop.cpp, collector.cpp),
// each started again should it throw. Everything runs on one io_context
// thread: the store, the dispatchers and the HTTPS clients need no locks.
// Expected load: once per process; a loop restart is rare (a bug's trace).
#include "runtime/daemon.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "config/credential.hpp"
#include "mde/tenant_client.hpp"
#include "runtime/logging.hpp"
#include "runtime/sd_notify.hpp"
#include "runtime/shell.hpp"
#include "runtime/state_lock.hpp"
#include "store/database_path.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sys/stat.h>

namespace lrsched::runtime {
namespace {

using policy::kCancelGrace;
using policy::kLoopRestartDelay;
using policy::kStopGrace;

// The dispatcher's random draws in [0, 1), one generator per tenant.
Dispatcher::Draw jitter_draw() {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

}  // namespace

void log_certificate_state(const std::string& tenant,
                           const config::Credential& credential,
                           Millis now) {
    const config::CertificateInfo* cert = credential.certificate();
    if (cert == nullptr) return;
    const auto check = config::certificate_check(*cert, now / 1000);
    if (check.failed())
        spdlog::error("tenant={} {}", tenant, log_value(check.message));
    else if (!check.message.empty())
        spdlog::warn("tenant={} {}", tenant, log_value(check.message));
}

Result<void> Daemon::set_up() {
    const Millis now = unix_now();
    started_at_ = now;
    for (const auto& c : cfg_.tenants) {
        auto rt = std::make_unique<TenantRt>(io_, c);
        auto client = mde::make_tenant_client(io_, c, store_, now);
        if (!client) return std::move(client).error();
        rt->http = std::move(client->http);
        rt->tokens = std::move(client->tokens);
        log_certificate_state(c.name, rt->tokens->credential(), now);
        rt->api = std::move(client->api);
        rt->dispatcher = std::make_unique<Dispatcher>(store_, c, jitter_draw());
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
    // The read model's connection (status, sessions, metrics): a reader
    // of its own, like the CLI's when the daemon is down.
    auto report = store::Report::open(store::database_path(cfg_.state_dir));
    if (!report) return std::move(report).error();
    report_.emplace(std::move(*report));
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
    auto flight = flights_.emplace(flights_.end());
    auto loop = make();
    const auto done = [this, flight, make = std::move(make),
                       name = std::move(name)](const std::exception_ptr& e) {
        --loops_;
        flight->running = false;
        // Not inside the handler its own signal may still be calling.
        asio::post(io_, [this, flight] { flights_.erase(flight); });
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
                spdlog::error("loop {} failed, restarting in {} ms: {}", name, kLoopRestartDelay,
                              log_error(what));
            loop_failures_[name] = what;
            auto timer = std::make_shared<asio::steady_timer>(io_, milliseconds(kLoopRestartDelay));
            restarts_.insert(timer);
            ++loops_;
            timer->async_wait([this, timer, make, name](boost::system::error_code) {
                --loops_;
                restarts_.erase(timer);
                if (!stopping_) spawn(make, name);
                if (loops_ == 0) io_.stop();
            });
        }
        if (loops_ == 0) io_.stop();
    };
    asio::co_spawn(io_, std::move(loop),
                   asio::bind_cancellation_slot(flight->cancel.slot(), std::move(done)));
}

void Daemon::stop() {
    if (stopping_) return;
    stopping_ = true;
    // Phase one: nothing new starts. Each loop ends at its next check of
    // stopping_, once the call it is awaiting (if any) has its answer,
    // which is recorded like any other; loops that wait on an event or a
    // timer end at once.
    sd::stopping();
    spdlog::info("stopping: no new work; {} loop(s) running, calls in flight get {} ms", loops_,
                 kStopGrace);
    signals_.cancel();
    for (auto& c : control_)
        c->close();
    jobs_event_.notify();
    notify_event_.notify();
    close_event_.notify();
    cancel_work_ = true;
    for (auto& t : tenants_) {
        t->dispatch.notify();
        t->track.notify();
        t->collect.notify();
    }
    for (const auto& timer : restarts_)
        timer->cancel();
    // Phase two: what is still in flight then is cancelled. A submit cut
    // off this way stays durably `submitting`, and the next start
    // reconciles it by its tag, as after a crash.
    auto grace = std::make_shared<asio::steady_timer>(io_, milliseconds(kStopGrace));
    grace->async_wait([this, grace](boost::system::error_code) {
        if (loops_ == 0) return;
        spdlog::warn("stopping: cancelling {} loop(s) still waiting for a call", loops_);
        for (Flight& f : flights_)
            if (f.running) f.cancel.emit(asio::cancellation_type::terminal);
        // An operation that cannot be cancelled does not hold the process.
        grace->expires_after(milliseconds(kCancelGrace));
        grace->async_wait([this, grace](boost::system::error_code ec) {
            if (ec || loops_ == 0) return;
            spdlog::warn("stopping: {} loop(s) did not end; leaving them", loops_);
            io_.stop();
        });
    });
}

int Daemon::run() {
    if (!open_control()) return 1;
    if (const auto every = sd::watchdog_interval()) watchdog_every_ = every->count() / 2;
    spawn([this] { return signal_loop(); }, "signals");
    spawn([this] { return jobs_loop(); }, "jobs");
    spawn([this] { return close_loop(); }, "close");
    for (auto& t : tenants_) {
        TenantRt* rt = t.get();
        spawn([this, rt] { return dispatch_loop(rt); }, "dispatch " + t->cfg.name);
        spawn([this, rt] { return track_loop(rt); }, "track " + t->cfg.name);
        spawn([this, rt] { return collect_loop(rt); }, "collect " + t->cfg.name);
    }
    if (std::getenv("NOTIFY_SOCKET")) spawn([this] { return notify_loop(); }, "systemd");
    spdlog::info("lrsched daemon started: {} tenant(s), jobs in {}, store {}", tenants_.size(),
                 log_value(cfg_.jobs_dir), log_value(cfg_.state_dir));
    sd::ready();
    io_.run();
    // Every loop has ended (or, past the cancel grace, been left): the
    // Daemon goes with its clients, then its store closes (member order).
    for (const view::TenantLive& t : live(unix_now()).tenants)
        spdlog::info("tenant={} at stop: {}", t.name, view::summary(t));
    spdlog::info("lrsched daemon stopped");
    return 0;
}

view::Live Daemon::live(Millis now) const {
    view::Live out;
    out.at = now;
    out.started_at = started_at_;
    out.loops_running = loops_;
    out.stopping = stopping_;
    for (const auto& t : tenants_) {
        view::TenantLive v;
        v.name = t->cfg.name;
        const limits::ConcurrencyGate& gate = t->dispatcher->gate();
        v.slots_held = gate.held();
        v.slots_held_offline = gate.held_offline();
        v.slot_limit = t->cfg.limits.concurrent_sessions;
        v.offline_slots = t->cfg.limits.offline_slots;
        v.sessions_tracked = t->dispatcher->tracked();
        v.runs = t->dispatcher->runs();
        v.paused = t->dispatcher->paused();
        v.paused_reason = t->dispatcher->paused_reason();
        v.reads = t->api->reads();
        v.token_fetches = t->tokens->fetches();
        if (const auto* cert = t->tokens->credential().certificate())
            v.certificate = view::CertificateLive{
                cert->cert_file, cert->thumbprint, cert->subject, cert->not_after * 1000,
                config::certificate_check(*cert, now / 1000).message};
        for (const mde::CallCounts* counts : {&t->api->counts(), &t->tokens->counts()}) {
            for (const auto& [endpoint, codes] : counts->calls())
                for (const auto& [code, n] : codes)
                    v.api_calls[endpoint][code] += n;
            for (const auto& [cause, n] : counts->throttled())
                v.throttled[cause] += n;
        }
        const auto use = [now](const limits::RateLimiter& limiter) {
            std::vector<view::WindowUse> windows;
            for (const limits::SlidingWindow& w : limiter.windows())
                windows.push_back({w.per().count(), w.in_window(now), w.calls()});
            return windows;
        };
        v.submit_windows = use(t->dispatcher->submit_limiter());
        v.read_windows = use(t->api->read_limiter());
        v.result_files = t->result_files;
        v.result_bytes = t->result_bytes;
        v.last_poll = t->last_poll;
        const Reachability& reach = t->api->reachability();
        if (reach.failing()) {
            v.unreachable = true;
            v.unreachable_since = reach.since();
            v.retry_at = reach.retry_at();
            v.last_error = reach.last_error();
        }
        out.tenants.push_back(std::move(v));
    }
    return out;
}

asio::awaitable<void> Daemon::notify_loop() {
    using sessions::SessionState;
    while (!stopping_) {
        // The store's report alone: the line needs no ETA and no live figures.
        if (auto r = report_->status(tenant_names(cfg_), std::nullopt, unix_now())) {
            std::int64_t jobs = 0, running = 0, queued = 0, paused = 0;
            for (const auto& j : r->jobs) {
                if (j.deleted_at) continue;
                ++jobs;
                paused += j.paused ? 1 : 0;
                if (!j.latest_run || j.latest_run->finished_at) continue;
                const auto& n = j.latest_run->counts;  // every state, zeros included
                running += n.at(SessionState::running) + n.at(SessionState::pending) +
                           n.at(SessionState::submitting);
                queued += n.at(SessionState::queued) + n.at(SessionState::busy);
            }
            sd::status(std::to_string(jobs) + " jobs, " + std::to_string(running) + " running, " +
                       std::to_string(queued) + " queued, " + std::to_string(paused) + " paused");
        }
        co_await notify_event_.wait(unix_now() + policy::kNotifyStatusEvery);
    }
}

asio::awaitable<void> Daemon::signal_loop() {
    while (!stopping_) {
        auto [ec, sig] = co_await signals_.async_wait(net::kUseTuple);
        if (ec) break;
        if (sig == SIGHUP) {  // what `lrsched reload` does (systemctl reload)
            spdlog::info("SIGHUP: reload");
            auto r = reload();
            if (!r)
                spdlog::error("SIGHUP: {}", log_error(r.error().message));
            else
                spdlog::info("SIGHUP: {}", log_error(r->message));
            continue;
        }
        spdlog::info("signal {}: stopping", sig);
        stop();
    }
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
    // Before the store: a second daemon must not even migrate it.
    auto lock = StateLock::acquire(cfg->state_dir);
    if (!lock) {
        spdlog::critical("{}", lock.error().message);
        return 1;
    }
    auto st = store::Store::open(store::database_path(cfg->state_dir));
    if (!st) {
        spdlog::critical("{}", st.error().message);
        return 1;
    }
    auto daemon = std::make_unique<Daemon>(std::move(*cfg), std::move(*st));
    if (auto r = daemon->set_up(); !r) {
        spdlog::critical("{}", r.error().message);
        return 1;
    }
    return daemon->run();
}

}  // namespace lrsched::runtime
