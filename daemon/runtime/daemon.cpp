// Start-up and shutdown of the `lrsched daemon` process (SPEC §6, §7): the
// configuration, the log, the store, one client and one dispatcher per
// tenant, then the loops (tenant_loops.cpp, jobs_loop.cpp, collector.cpp),
// each started again should it throw. Everything runs on one io_context
// thread: the store, the dispatchers and the HTTPS clients need no locks.
// Expected load: once per process; a loop restart is rare (a bug's trace).
#include "runtime/daemon.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "mde/tenant_client.hpp"
#include "runtime/shell.hpp"
#include "store/database_path.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <sys/stat.h>

namespace lrsched::runtime {
namespace {

using policy::kLoopRestartDelay;
using policy::kStopGrace;

// The dispatcher's random draws in [0, 1), one generator per tenant.
Dispatcher::Draw jitter_draw() {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

}  // namespace

Result<void> Daemon::set_up() {
    const Millis now = unix_now();
    for (const auto& c : cfg_.tenants) {
        auto rt = std::make_unique<TenantRt>(io_, c);
        auto client = mde::make_tenant_client(io_, c, store_, now);
        if (!client) return std::move(client).error();
        rt->http = std::move(client->http);
        rt->tokens = std::move(client->tokens);
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
                    spdlog::error("loop {} failed, restarting in {} ms: {}", name,
                                  kLoopRestartDelay, log_error(what));
                loop_failures_[name] = what;
                auto timer =
                    std::make_shared<asio::steady_timer>(io_, milliseconds(kLoopRestartDelay));
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
    auto daemon = std::make_unique<Daemon>(std::move(*cfg), std::move(*st));
    if (auto r = daemon->set_up(); !r) {
        spdlog::critical("{}", r.error().message);
        return 1;
    }
    return daemon->run();
}

}  // namespace lrsched::runtime
