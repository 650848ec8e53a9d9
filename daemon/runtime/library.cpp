// The live response library at run start (issue 5 item 6): the tenant's
// library_dir uploaded where the library lacks a file or holds another
// version, then the run's PutFile and RunScript names looked up; a job
// naming a missing file is paused, with its sessions queued, and looked at
// again until the files are there. The decisions are api/library.hpp's;
// this file makes the calls and keeps the pauses.
#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "common/sha256.hpp"
#include "runtime/shell.hpp"

#include <spdlog/spdlog.h>

namespace lrsched::runtime {

asio::awaitable<Result<std::vector<api::LibraryFile>>> Daemon::sync_library(TenantRt* t) {
    const std::string& tn = t->cfg.name;
    const auto note_once = [t](spdlog::level::level_enum level, const std::string& line) {
        if (t->library_noted.insert(line).second) spdlog::log(level, "{}", line);
    };
    std::vector<api::LocalFile> local;
    if (t->library_dir) {
        auto scan = t->library_dir->scan();
        if (!scan) {
            // Not fatal: the library may hold the files already.
            note_once(spdlog::level::warn,
                      "tenant=" + tn + " library_dir: " + scan.error().message);
        } else {
            for (const auto& s : scan->skipped)
                note_once(spdlog::level::warn, "tenant=" + tn + " library_dir file=" +
                                                   quote_value(s.name) + " skipped: " + s.why);
            local = std::move(scan->files);
        }
    }
    auto library = co_await t->api->list_library();
    if (!library) co_return std::move(library).error();
    for (const std::size_t i : api::uploads_needed(local, *library)) {
        const api::LocalFile& f = local[i];
        if (t->library_refused.count(f.name + " " + f.sha256)) continue;
        auto content = t->library_dir->read(f);
        if (!content) {
            note_once(spdlog::level::warn, "tenant=" + tn +
                                               " library_dir file=" + log_value(f.name) +
                                               " not uploaded: " + content.error().message);
            continue;
        }
        const std::string sha = sha256_hex(*content);
        const std::size_t bytes = content->size();
        auto up = co_await t->api->upload_library(f.name, std::move(*content));
        if (stopping_) co_return Error{Errc::cancelled, "stopping"};
        if (!up) co_return std::move(up).error();
        if (up->outcome == api::UploadOutcome::retry_later)
            co_return Error{Errc::server_error,
                            "tenant " + tn + ": uploading " + log_value(f.name) +
                                " to the live response library: " + up->message};
        if (up->outcome == api::UploadOutcome::refused) {
            t->library_refused.insert(f.name + " " + sha);
            spdlog::error(
                "tenant={} file={} bytes={} sha256={} refused by the live response "
                "library: {}",
                tn, log_value(f.name), bytes, sha, up->message);
            continue;
        }
        spdlog::info("tenant={} file={} bytes={} sha256={} uploaded to the live response library",
                     tn, log_value(f.name), bytes, sha);
        if (!up->entity.sha256.empty() && up->entity.sha256 != sha)
            spdlog::warn("tenant={} file={} the library reports sha256={} for it", tn,
                         log_value(f.name), log_value(up->entity.sha256));
        api::record_upload(*library, {f.name, sha});
    }
    co_return library;
}

void Daemon::apply_library(TenantRt* t,
                           const std::string& job,
                           const std::vector<api::LibraryFile>& library,
                           Millis now) {
    // What the job's unfinished runs will send: their frozen commands, not
    // the job file's current ones.
    auto runs = store_.unfinished_runs();
    auto row = store_.find_job(job);
    if (!runs || !row || !*row) {
        spdlog::error("job={} library check: {}", job,
                      !runs  ? runs.error().message
                      : !row ? row.error().message
                             : std::string("job not stored"));
        return;
    }
    std::vector<jobs::Command> commands;
    for (const auto& r : *runs) {
        if (r.job_name != job || r.tenant != t->cfg.name) continue;
        if (auto plan = plan_from_definition(r.run.id, r.run.definition))
            commands.insert(commands.end(), plan->commands.begin(), plan->commands.end());
    }
    const auto missing = api::missing_from_library(commands, library);
    const std::string reason = (*row)->paused_reason.value_or("");
    const bool ours = (*row)->paused && api::is_library_pause(reason);
    if (missing.empty()) {
        if (!ours) return;
        (void)store_.set_job_paused(job, false, "");
        t->dispatcher->set_job_paused(job, false);
        wake_dispatch_if_needed(t);
        spdlog::info(
            "job={} resumed: the live response library of tenant {} holds every file "
            "it names",
            job, t->cfg.name);
        return;
    }
    const std::string why = api::library_pause_reason(t->cfg.name, missing);
    if ((*row)->paused && !ours) {
        // Someone else's pause (the operator's, repeated rejections): left alone.
        if (t->library_noted.insert(job + " " + why).second)
            spdlog::warn("job={} stays paused ({}); besides, {}", job, reason, why);
        return;
    }
    const Millis every = library_recheck_every(t->cfg);
    if (reason != why) {
        if (auto r = store_.set_job_paused(job, true, why); !r)
            spdlog::error("job={} pausing: {}", job, r.error().message);
        t->dispatcher->set_job_paused(job, true);
        spdlog::warn(
            "job={} paused: {}; its sessions stay queued; looked at again every {} ms "
            "and when the job file changes",
            job, why, every);
    }
    t->library_recheck_at = std::min(t->library_recheck_at.value_or(now + every), now + every);
}

asio::awaitable<void> Daemon::recheck_library(TenantRt* t) {
    t->library_recheck_at.reset();
    auto jobs = store_.list_jobs();
    if (!jobs) {
        spdlog::error("tenant={} library check: {}", t->cfg.name, jobs.error().message);
        t->library_recheck_at = unix_now() + library_recheck_every(t->cfg);
        co_return;
    }
    std::vector<std::string> waiting;
    for (const auto& j : *jobs)
        if (j.tenant == t->cfg.name && !j.deleted_at && j.paused &&
            api::is_library_pause(j.paused_reason.value_or("")))
            waiting.push_back(j.name);
    if (waiting.empty()) co_return;  // nothing waits: no call
    auto library = co_await sync_library(t);
    if (stopping_) co_return;
    if (!library) {
        spdlog::warn(
            "tenant={} the live response library was not checked: {}; {} job(s) stay "
            "paused",
            t->cfg.name, library.error().message, waiting.size());
        t->library_recheck_at = unix_now() + library_recheck_every(t->cfg);
        co_return;
    }
    for (const auto& job : waiting)
        apply_library(t, job, *library, unix_now());
}

}  // namespace lrsched::runtime
