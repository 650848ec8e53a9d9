// The running daemon as the control API's Backend (control/routes.hpp):
// what `lrsched status`, `sessions`, `run`, `pause`, `resume`, `cancel`,
// `reload` and `plan` do when the daemon runs, and the listeners that carry
// them (the Unix socket of `control.socket`; `metrics.listen` for the
// metrics and the status page). Every command runs on the daemon's one
// thread, between two steps of its loops: it sees and changes the same
// store and dispatchers as they do, with no lock, and what it changes is
// committed before it answers. Expected load: a few commands a minute.
#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "config/credential.hpp"
#include "runtime/shell.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace lrsched::runtime {

using control::ActionOutcome;

namespace {

Error not_loaded(std::string_view job, const store::JobRow& row) {
    if (row.deleted_at)
        return Error{Errc::invalid_input, "job " + std::string(job) + ": its file was deleted"};
    return Error{Errc::invalid_input, "job " + std::string(job) + " has no valid version: " +
                                          row.last_error.value_or("its file was never loaded")};
}

// The first line of a validation report (the operator runs `lrsched
// validate -c` for the rest).
std::string first_line(const std::string& text) {
    return text.substr(0, text.find('\n'));
}

}  // namespace

Result<view::Overview> Daemon::overview(std::optional<std::string_view> job) {
    const Millis now = unix_now();
    auto o = view::read_overview(*report_, cfg_, job, now);
    if (!o) return o;
    o->live = live(now);
    return o;
}

Result<store::SessionsReport> Daemon::sessions(std::string_view job,
                                               std::optional<sessions::SessionState> state) {
    return report_->sessions(job, state);
}

Result<ActionOutcome> Daemon::run_now(std::string_view job) {
    const Millis now = unix_now();
    auto row = store_.find_job(job);
    if (!row) return std::move(row).error();
    const jobs::LoadedJob* lj = registry_.find(job);
    if (!*row && !lj) return Error{Errc::not_found, "no job named " + std::string(job)};
    if (!lj || !*row || (*row)->deleted_at) return not_loaded(job, **row);
    auto runs = store_.unfinished_runs();
    if (!runs) return std::move(runs).error();
    for (const auto& r : *runs)
        if (r.job_name == job)
            return Error{Errc::invalid_input, "job " + std::string(job) + " still has run " +
                                                  std::to_string(r.run.id) +
                                                  " unfinished; cancel it first"};
    const auto id =
        start_run(*lj, (*row)->id, store::RunTrigger::manual, std::nullopt, std::nullopt, now);
    if (!id) return Error{Errc::internal_error, "the run could not be created (see the log)"};
    jobs_event_.notify();
    ActionOutcome out;
    out.run = *id;
    out.message = "job " + std::string(job) + ": run " + std::to_string(*id) + " started";
    return out;
}

Result<ActionOutcome> Daemon::set_paused(std::string_view job, bool paused) {
    auto row = store_.find_job(job);
    if (!row) return std::move(row).error();
    if (!*row) return Error{Errc::not_found, "no job named " + std::string(job)};
    const std::string name(job);
    ActionOutcome out;
    TenantRt* t = tenant((*row)->tenant);
    if (paused) {
        if ((*row)->paused && (*row)->paused_reason.value_or("") == kOperatorPause) {
            out.message = "job " + name + " was already paused";
            return out;
        }
        if (auto r = store_.set_job_paused(name, true, std::string(kOperatorPause)); !r)
            return std::move(r).error();
        if (t) t->dispatcher->set_job_paused(name, true);
        spdlog::info("job={} paused by the operator", name);
        out.message = "job " + name + " paused: no new session starts; those in flight go on";
        return out;
    }
    if (!(*row)->paused) {
        out.message = "job " + name + " was not paused";
        return out;
    }
    if (auto r = store_.set_job_paused(name, false, ""); !r) return std::move(r).error();
    spdlog::info("job={} resumed by the operator (it was {})", name,
                 log_error((*row)->paused_reason.value_or("paused")));
    out.message = "job " + name + " resumed";
    if (t) {
        t->dispatcher->set_job_paused(name, false);
        // A job that waited for the library looks at it again now: it
        // pauses once more, saying so, if the files are still missing.
        if (api::is_library_pause((*row)->paused_reason.value_or(""))) {
            t->library_recheck_at = unix_now();
            jobs_event_.notify();
            out.message += "; the live response library is checked again";
        }
        wake_dispatch_if_needed(t);
        t->dispatch.notify();
    }
    return out;
}

Result<ActionOutcome> Daemon::cancel(std::string_view job,
                                     std::optional<std::string_view> machine) {
    const Millis now = unix_now();
    auto row = store_.find_job(job);
    if (!row) return std::move(row).error();
    if (!*row) return Error{Errc::not_found, "no job named " + std::string(job)};
    std::optional<std::string> machine_id;
    if (machine) {
        machine_id = std::string(*machine);
        std::transform(machine_id->begin(), machine_id->end(), machine_id->begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    const std::string name(job);
    ActionOutcome out;
    // Runs whose targets are still being resolved end without sessions.
    std::int64_t unresolved = 0;
    if (!machine_id) {
        auto runs = store_.unfinished_runs();
        if (!runs) return std::move(runs).error();
        for (const auto& r : *runs) {
            if (r.job_name != name || r.run.resolved_at) continue;
            cancelled_runs_.insert(r.run.id);
            resolve_after_.erase(r.run.id);
            ++unresolved;
        }
        if (unresolved > 0) jobs_event_.notify();
    }
    std::int64_t runs = 0;
    if (TenantRt* t = tenant((*row)->tenant)) {
        const dispatch::CancelOutcome c = t->dispatcher->cancel_job(name, machine_id, now);
        runs = c.runs;
        out.cancelled = c.cancelled;
        out.on_server = c.on_server;
        t->track.notify();  // the cancel calls go out now
        wake_dispatch_if_needed(t);
        t->collect.notify();
    }
    if (machine_id && out.cancelled == 0 && out.on_server == 0)
        return Error{Errc::not_found, "job " + name + " has no session waiting or in flight on " +
                                          quote_value(*machine_id, 80)};
    if (runs == 0 && unresolved == 0) {
        out.message = "job " + name + " has no unfinished run: nothing to cancel";
        return out;
    }
    out.message = "job " + name + ": " + std::to_string(out.cancelled) +
                  " waiting session(s) cancelled; " + std::to_string(out.on_server) +
                  " in flight cancelled on the server and followed to their end";
    if (unresolved > 0)
        out.message += "; " + std::to_string(unresolved) + " run(s) ended before resolving targets";
    spdlog::info("job={} cancelled by the operator: waiting={} in_flight={} machine={}", name,
                 out.cancelled, out.on_server, log_value(machine_id.value_or("all")));
    return out;
}

// Reads the tenant's credential files again (rotation: SPEC §5, README):
// when they load, the token provider uses them from its next request and a
// pause for refused credentials ends; when they do not, the credential in
// use stays and the answer says why. Either way the daemon goes on.
std::string Daemon::reload_credential(TenantRt& t, const config::Tenant& fresh) {
    const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
    auto credential = config::read_credential(fresh, creds ? creds : "");
    if (!credential) {
        spdlog::error("tenant={} reload: credential not replaced, the one in use stays: {}",
                      t.cfg.name, log_value(credential.error().message));
        return "tenant " + t.cfg.name + ": credential NOT replaced (" + credential.error().message +
               ")";
    }
    std::string what = "client secret";
    if (const auto* cert = credential->certificate()) {
        what = "certificate " + cert->thumbprint + " valid until " +
               utc_iso8601(cert->not_after * 1000);
    }
    log_certificate_state(t.cfg.name, *credential, unix_now());
    t.tokens->replace_credential(std::move(*credential));
    t.dispatcher->credentials_replaced();
    // Runs whose targets could not be listed (the token refused) try again
    // now rather than after their backoff: a reload is the operator's "try
    // again" (reload() wakes the jobs loop). One listing each, at most.
    resolve_after_.clear();
    wake_dispatch_if_needed(&t);
    t.track.notify();
    spdlog::info("tenant={} reload: credential re-read: {}", t.cfg.name, log_value(what));
    return "tenant " + t.cfg.name + ": " + what + " in use";
}

Result<ActionOutcome> Daemon::reload() {
    Diagnostics diags;
    auto cfg = config::load_config(cfg_.path, diags);
    if (!cfg)
        return Error{Errc::invalid_input,
                     "the configuration is not reloaded, it does not validate: " +
                         first_line(diags.to_string())};
    ActionOutcome out;
    out.message = "job files re-read; " + cfg_.path + " validates";
    if (cfg->log.level != cfg_.log.level) {
        spdlog::set_level(spdlog::level::from_str(cfg->log.level));
        spdlog::info("log.level is now {}", log_value(cfg->log.level));
        cfg_.log.level = cfg->log.level;
        out.message += "; log.level " + cfg->log.level + " applied";
    }
    for (const auto& t : tenants_) {
        const config::Tenant* fresh = cfg->find_tenant(t->cfg.name);
        if (fresh == nullptr) continue;  // a tenant removed: at the next start
        out.message += "; " + reload_credential(*t, *fresh);
    }
    out.message += "; other configuration changes take effect at the next start";
    // Read now, before the answer: a `plan` or `run` sent right after it
    // sees the files as they are (scan_jobs does not suspend, so the jobs
    // loop cannot be half-way through one of its own). The loop is woken to
    // fire what is new.
    scan_jobs(unix_now());
    jobs_event_.notify();
    spdlog::info("reload: job files re-read");
    return out;
}

}  // namespace lrsched::runtime
