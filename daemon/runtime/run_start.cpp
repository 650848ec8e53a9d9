// A run's start (SPEC §2, §3): the library checked (library.cpp), the fleet
// listed within the read budget, the job's targets resolved, and one queued
// session per machine committed with whether it looks offline; then the
// dispatcher takes the run. A run whose start fails (listing, library,
// store) keeps its row and is tried again; a run of a job deleted meanwhile
// ends without sessions. Expected load: one machine listing per run (up to
// 10^5 machines held once while the sessions are queued).
#include "common/crash_point.hpp"
#include "common/log_text.hpp"
#include "config/policy.hpp"
#include "jobs/targets.hpp"
#include "runtime/shell.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace lrsched::runtime {

using policy::kResolveRetry;

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
    if (cancelled_runs_.erase(active.run.id) > 0) {
        if (auto r = store_.mark_run_resolved(active.run.id, std::nullopt, now); !r) {
            spdlog::error("job={} run={}: {}", active.job_name, active.run.id, r.error().message);
            return false;
        }
        (void)store_.finish_run_if_done(active.run.id, now);
        spdlog::info("job={} run={} state=cancelled: before its targets were resolved",
                     active.job_name, active.run.id);
        return true;
    }
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
        resolve_after_[run_id] = unix_now() + policy::kUnstartableRetry;
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

}  // namespace lrsched::runtime
