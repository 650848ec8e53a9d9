// The jobs loop (SPEC §2): job files read when jobs_dir's inotify watch
// reports a change (runtime/jobs_watch.hpp), at SIGHUP and `reload`, and
// periodically as a safety net (every 2 s without the watch), and squared
// with the store; cron firings turned into runs, runs whose
// targets are still to resolve handed to run_start.cpp, the library
// re-checked for jobs that wait for it, and old api_calls rows pruned.
// A failure while handling one job becomes that job's last error (logged
// once, shown by `status`) and the loop goes on with the others.
// Expected load: a few stat calls per scan, a scan per save of a job file
// and a minute; tens of jobs.
#include "common/crash_point.hpp"
#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "common/text.hpp"
#include "config/policy.hpp"
#include "jobs/firing.hpp"
#include "runtime/shell.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace lrsched::runtime {
namespace {

using std::chrono::milliseconds;

using policy::kPruneEvery;
using policy::kScanEvery;

Millis to_ms(jobs::TimePoint t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

asio::awaitable<void> Daemon::jobs_loop() {
    // jobs_watch_ outlives a restart of this loop (ensure() keeps a watch
    // that is on); its pending read ends with the io_context at the latest.
    Millis next_scan = 0;
    Millis next_prune = 0;
    while (!stopping_) {
        Millis now = unix_now();
        if (rescan_ || now >= next_scan || jobs_watch_.rescan_due(now) ||
            (removal_check_at_ && now >= *removal_check_at_)) {
            // Watching before reading: what changes during the scan is an
            // event for the next one. A watch that cannot be set up (no
            // jobs_dir, no inotify watch left) is tried again at each scan.
            const bool watched = jobs_watch_.ensure();
            jobs_watch_.scanning();
            scan_jobs(now);
            jobs_watch_.watch_folders(registry_.target_folders(), now);
            next_scan = now + (watched ? cfg_.jobs_scan_every.count() : kScanEvery);
            rescan_ = false;
        }
        if (now >= next_prune) {
            prune_api_calls(now);
            next_prune = now + kPruneEvery;
        }
        std::optional<Millis> wake = fire_jobs(now, first_firing_);
        first_firing_ = false;
        for (const std::int64_t run : std::vector<std::int64_t>(unresolved_)) {
            auto after = resolve_after_.find(run);
            if (after == resolve_after_.end() || after->second <= unix_now()) {
                co_await resolve_guarded(run);
                if (stopping_) co_return;
                // A start that failed just now tries again then: the loop
                // must wake for it, with no periodic scan to rely on (a time
                // already past would spin the loop: the next scan retries).
                after = resolve_after_.find(run);
            }
            if (after != resolve_after_.end() && after->second > unix_now())
                wake = std::min(wake.value_or(after->second), after->second);
        }
        for (const auto& t : tenants_) {
            if (t->library_recheck_at && *t->library_recheck_at <= unix_now()) {
                co_await recheck_library(t.get());
                if (stopping_) co_return;
            }
            if (t->library_recheck_at)
                wake = std::min(wake.value_or(*t->library_recheck_at), *t->library_recheck_at);
        }
        wake = std::min({wake.value_or(next_scan), next_scan, next_prune});
        if (const auto due = jobs_watch_.rescan_at()) wake = std::min(*wake, *due);
        if (removal_check_at_) wake = std::min(*wake, *removal_check_at_);
        co_await jobs_event_.wait(wake);
    }
    jobs_watch_.close();
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
    // A file missing at start-up was deleted while the daemon was down: its
    // queued sessions go before anything is submitted. A file that goes
    // while it runs must stay gone for kDeleteConfirm: vim's save renames
    // the file away before it writes the new one, and a scan in that gap
    // must not withdraw the job's queue.
    const bool confirm = scanned_once_;
    scanned_once_ = true;
    std::set<std::string> missing;
    removal_check_at_.reset();
    for (const auto& row : *stored) {
        if (row.deleted_at || report.present.contains(row.name)) continue;
        missing.insert(row.name);
        const auto [seen, first] = missing_since_.emplace(row.name, now);
        const Millis since = seen->second;
        if (confirm && now - since < policy::kDeleteConfirm) {
            if (first)
                spdlog::info("job={} its file is missing: withdrawn if still missing in {} ms",
                             row.name, policy::kDeleteConfirm);
            const Millis at = since + policy::kDeleteConfirm;
            removal_check_at_ = std::min(removal_check_at_.value_or(at), at);
            continue;
        }
        for_job(row.name, now, [&] { job_removed(row, now); });
    }
    std::erase_if(missing_since_, [&](const auto& m) { return !missing.contains(m.first); });
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
    if (before && before->paused && edited &&
        before->paused_reason.value_or("") != kOperatorPause) {
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
        std::optional<jobs::LatestRun> latest;
        if (lj.job.schedule.overlap == jobs::Overlap::skip) {
            auto last = store_.latest_run(job_id);
            if (last && *last) {
                latest.emplace();
                latest->finished = (*last)->finished_at.has_value();
                latest->resolved = (*last)->resolved_at.has_value();
                if (auto counts = store_.count_by_state((*last)->id); counts && !latest->finished)
                    latest->waiting = (*counts)[store::SessionState::queued] +
                                      (*counts)[store::SessionState::busy];
            }
        }
        if (jobs::firing_skipped(lj.job.schedule.overlap, latest)) {
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

std::optional<std::int64_t> Daemon::start_run(const jobs::LoadedJob& lj,
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
        return std::nullopt;
    }
    if (!*id) {
        spdlog::info("job={} firing for {} skipped: it already has its run", lj.job.name,
                     utc_iso8601(scheduled_for.value_or(0)));
        return std::nullopt;
    }
    crash_point("jobs.after_firing");
    spdlog::info("job={} run={} state=created trigger={}", lj.job.name, **id,
                 store::to_string(trigger));
    unresolved_.push_back(**id);
    return *id;
}

}  // namespace lrsched::runtime
