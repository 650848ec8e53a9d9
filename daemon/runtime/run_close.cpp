// Closing a run (SPEC §4, issue 15 items 1, 4 and 6). When a run ends
// (store finished_at), this loop, in order and each step durable before the
// next:
//   1. builds the run's table (evidence/results.hpp) OFF the io thread (it
//      reads every result file) and writes results.jsonl to the run folder;
//   2. lists results.jsonl in the manifest: its line is the chain's last, so
//      its hash is the run digest, recorded with closed_at and in the audit
//      log (one transaction) and logged `job= run= digest=`;
//   3. starts the job's on_finish hooks (a command, a webhook), which run on
//      their own, never holding this loop; their outcome goes to the audit
//      log and the log, then hooks_done_at;
//   4. applies the job's evidence retention (keep_runs, keep_for): older run
//      folders removed, off the io thread, each recorded in the audit log
//      with its digest.
// A crash between 2's manifest line and its store row is repaired at the
// next start: a results line found last in the manifest is adopted rather
// than written twice. Hooks are run at least once: one cut off by a crash
// or a stop runs again at the next start. Load: once per run; a run's table
// reads its files once (transcripts and ZIPs streamed).
#include "common/log_text.hpp"
#include "config/policy.hpp"
#include "evidence/results.hpp"
#include "evidence/run_diff.hpp"
#include "jobs/job.hpp"
#include "runtime/hook_command.hpp"
#include "runtime/hook_webhook.hpp"
#include "runtime/shell.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>

namespace lrsched::runtime {
namespace {

using nlohmann::json;

// The daemon opens GetFile ZIPs up to this size for results.jsonl (the
// entries' hashes); larger ones are listed by their own hash. `lrsched diff`
// opens every ZIP, whatever its size.
constexpr std::uint64_t kDaemonZipCap = std::uint64_t{256} * 1024 * 1024;
// How often the loop looks for ended runs besides being woken.
constexpr Millis kClosePoll = 1'000;
// A run whose closing failed is tried again after this.
constexpr Millis kCloseRetry = 60'000;
// A hook command's time limit.
constexpr milliseconds kHookTimeout{60'000};

std::string run_folder(const config::Config& cfg, const std::string& job, std::int64_t run) {
    return cfg.state_dir + "/evidence/" + job + "/" + std::to_string(run);
}

// A results line left last in the manifest by a crash before its store row:
// its hash, adopted as the digest.
std::optional<std::string> results_line_digest(const std::string& run_dir) {
    const auto entries = evidence::read_manifest(run_dir);
    if (entries.empty() || entries.back().command_type != evidence::kResultsLineType)
        return std::nullopt;
    return evidence::manifest_digest(run_dir);
}

json counts_json(const store::RunContents& run) {
    json counts = json::object();
    for (const sessions::SessionState s : sessions::kAllStates)
        counts[std::string(to_string(s))] = 0;
    for (const store::SessionRow& s : run.sessions)
        counts[std::string(to_string(s.state))] =
            counts[std::string(to_string(s.state))].get<int>() + 1;
    return counts;
}

}  // namespace

// The worker owns `f` and whatever it captured (copies, never references
// into this coroutine): a loop cancelled at stop returns nullopt at once,
// and the worker finishes on its own (cancel_work_ makes that quick). Its
// answer comes back to the io thread by a post, which wakes the timer this
// coroutine waits on; the timer never leaves the io thread.
template <class R>
asio::awaitable<std::optional<R>> Daemon::off_io(std::function<R()> f) {
    struct Shared {
        std::optional<R> out;
        asio::steady_timer* timer = nullptr;  // null once this coroutine has gone
    };
    auto shared = std::make_shared<Shared>();
    asio::steady_timer timer(io_, asio::steady_timer::time_point::max());
    shared->timer = &timer;
    struct Unhook {
        Shared* s;
        ~Unhook() { s->timer = nullptr; }
    } unhook{shared.get()};
    asio::post(worker_, [this, shared, f = std::move(f)] {
        R value = f();
        asio::post(io_, [shared, value = std::move(value)]() mutable {
            shared->out = std::move(value);
            if (shared->timer) shared->timer->cancel();
        });
    });
    co_await timer.async_wait(net::kUseTuple);
    co_return std::move(shared->out);
}

asio::awaitable<void> Daemon::close_loop() {
    while (!stopping_) {
        auto due = store_.runs_to_close();
        if (!due) {
            spdlog::error("closing runs: {}", log_error(due.error().message));
        } else {
            for (const std::int64_t run : *due) {
                if (stopping_) co_return;
                if (hooks_running_.count(run)) continue;
                const auto after = close_after_.find(run);
                if (after != close_after_.end() && after->second > unix_now()) continue;
                std::string failure;
                try {
                    co_await close_run(run);
                } catch (const std::exception& e) {
                    failure = e.what();
                }
                // One run's failure stays with its job; the others are closed,
                // and this one is tried again a minute later (a full disk
                // would otherwise have its files read every second).
                if (failure.empty()) {
                    close_after_.erase(run);
                } else {
                    close_after_[run] = unix_now() + kCloseRetry;
                    auto job = store_.job_of_run(run);
                    job_failed(job && *job ? **job : "run=" + std::to_string(run), failure,
                               unix_now());
                }
            }
        }
        co_await close_event_.wait(unix_now() + kClosePoll);
    }
}

asio::awaitable<void> Daemon::close_run(std::int64_t run_id) {
    auto contents = store_.run_contents(run_id);
    if (!contents) throw std::runtime_error(contents.error().message);
    store::RunContents run = std::move(*contents);
    const std::string run_dir = run_folder(cfg_, run.job, run.id);
    const Millis now = unix_now();

    if (!run.closed_at) {
        evidence::ResultOptions options;
        options.max_zip_bytes = kDaemonZipCap;
        options.cancel = &cancel_work_;
        // Everything that reads or writes the folder runs off the io thread.
        using Closed = std::pair<Result<std::string>, std::size_t>;  // digest, rows
        // Named before the co_await: g++ 12 frees a lambda made inside one twice.
        std::function<Closed()> close_files = [run, run_dir, options, now]() -> Closed {
            if (auto adopted = results_line_digest(run_dir)) return {*adopted, 0};
            std::error_code ec;
            std::filesystem::create_directories(run_dir, ec);
            if (ec)
                return {Error{Errc::io_error, "cannot create the run folder: " + ec.message()}, 0};
            const evidence::RunResults results = evidence::build_results(run, run_dir, options);
            if (results.cut_short) return {Error{Errc::cancelled, "stopping"}, 0};
            auto written = evidence::write_results_file(results, run_dir);
            if (!written) return {std::move(written).error(), 0};
            evidence::ManifestEntry line;
            line.job = run.job;
            line.run = run.id;
            line.command_type = evidence::kResultsLineType;
            line.remote = evidence::kResultsFile;
            line.file = evidence::kResultsFile;
            line.bytes = static_cast<std::int64_t>(written->bytes);
            line.sha256 = written->sha256;
            line.downloaded_at = utc_iso8601(now, TimePrecision::seconds);
            return {evidence::append_manifest(run_dir, line), results.rows.size()};
        };
        auto closed = co_await off_io<Closed>(std::move(close_files));
        if (stopping_ || !closed) co_return;  // closed at the next start
        const Result<std::string>& digest = closed->first;
        const std::size_t rows = closed->second;
        if (!digest) throw std::runtime_error("closing the run: " + digest.error().message);
        if (auto r = store_.close_run(run.id, *digest, unix_now()); !r)
            throw std::runtime_error(r.error().message);
        run.digest = *digest;
        // The digest also goes to the log: a copy kept off this machine
        // (journald, a SIEM) proves the manifest even if the store is altered.
        spdlog::info("job={} run={} digest={} results={} rows={}", log_value(run.job), run.id,
                     *digest, evidence::kResultsFile, rows);
        co_await apply_retention(&run);
    }
    start_hooks(std::move(run));
}

void Daemon::start_hooks(store::RunContents run) {
    const json definition = json::parse(run.definition, nullptr, false);
    auto read = jobs::on_finish_of(definition);
    if (!read) {
        // A frozen definition the daemon wrote itself: recorded, never retried.
        const json detail = {
            {"kind", "hooks"}, {"ok", false}, {"detail", read.error().message}, {"attempts", 0}};
        (void)store_.add_audit(run.id, store::AuditEvent::hook, detail.dump(), unix_now());
        spdlog::error("job={} run={} on_finish: {}", log_value(run.job), run.id,
                      log_error(read.error().message));
    }
    const std::optional<jobs::OnFinish> hooks = read ? *read : std::nullopt;
    if (!hooks) {
        if (auto r = store_.set_hooks_done(run.id, unix_now()); !r)
            throw std::runtime_error(r.error().message);
        return;
    }
    hooks_running_.insert(run.id);
    const std::int64_t id = run.id;
    spawn([this, run = std::move(run), hooks = *hooks] { return run_hooks(run, hooks); },
          "hooks run=" + std::to_string(id));
}

asio::awaitable<void> Daemon::run_hooks(store::RunContents run, jobs::OnFinish hooks) {
    // While they run, the close loop leaves the run alone; then, done or
    // not, it may look at it again.
    struct Running {
        std::set<std::int64_t>& set;
        std::int64_t id;
        ~Running() { set.erase(id); }
    } running{hooks_running_, run.id};
    std::string failure;
    try {
        co_await hooks_of_run(&run, &hooks);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    // Never thrown again: a hook that failed this way is recorded as failed.
    if (failure.empty() || stopping_) co_return;
    spdlog::error("job={} run={} hooks failed: {}", log_value(run.job), run.id, log_error(failure));
    const json detail = {{"kind", "hooks"}, {"ok", false}, {"detail", failure}, {"attempts", 0}};
    (void)store_.add_audit(run.id, store::AuditEvent::hook,
                           detail.dump(-1, ' ', false, json::error_handler_t::replace), unix_now());
    (void)store_.set_hooks_done(run.id, unix_now());
}

asio::awaitable<void> Daemon::hooks_of_run(const store::RunContents* run_ptr,
                                           const jobs::OnFinish* hooks_ptr) {
    const store::RunContents& run = *run_ptr;
    const jobs::OnFinish& hooks = *hooks_ptr;
    json summary = {
        {"job", run.job},
        {"run", run.id},
        {"created_at", utc_iso8601(run.created_at, TimePrecision::seconds)},
        {"finished_at", run.finished_at
                            ? json(utc_iso8601(*run.finished_at, TimePrecision::seconds))
                            : json(nullptr)},
        {"digest", run.digest ? json(*run.digest) : json(nullptr)},
        {"run_folder", run_folder(cfg_, run.job, run.id)},
        {"results_file", run_folder(cfg_, run.job, run.id) + "/" + evidence::kResultsFile},
        {"sessions", counts_json(run)}};
    if (hooks.diff) summary["diff"] = co_await diff_for_hooks(&run);
    const std::string body = summary.dump(-1, ' ', false, json::error_handler_t::replace);

    const auto record = [&](const HookOutcome& o) {
        const json detail = {
            {"kind", o.kind}, {"ok", o.ok}, {"detail", o.detail}, {"attempts", o.attempts}};
        if (auto r = store_.add_audit(run.id, store::AuditEvent::hook,
                                      detail.dump(-1, ' ', false, json::error_handler_t::replace),
                                      unix_now());
            !r)
            spdlog::error("job={} run={} hook={}: {}", log_value(run.job), run.id, o.kind,
                          log_error(r.error().message));
        if (o.ok)
            spdlog::info("job={} run={} hook={} ok: {}", log_value(run.job), run.id, o.kind,
                         log_value(o.detail));
        else
            spdlog::warn("job={} run={} hook={} failed: {}{}", log_value(run.job), run.id, o.kind,
                         log_value(o.detail),
                         o.output.empty() ? "" : " output=" + log_value(o.output));
    };
    if (!hooks.command.empty()) {
        // Arguments made before the co_await: g++ 12 destroys temporaries
        // made inside one twice (STYLE.md).
        std::vector<std::string> argv = hooks.command;
        std::string input = body;
        HookEnv env{run.job, std::to_string(run.id)};
        const HookOutcome o = co_await run_hook_command(std::move(argv), std::move(input),
                                                        kHookTimeout, std::move(env));
        if (stopping_) co_return;  // cut off: run again at the next start
        record(o);
    }
    if (!hooks.webhook.empty()) {
        const json definition = json::parse(run.definition, nullptr, false);
        const std::string tenant_name =
            definition.is_object() ? definition.value("tenant", std::string()) : std::string();
        TenantRt* t = tenant(tenant_name);
        HookOutcome o;
        if (!t) {
            o.kind = "webhook";
            o.detail = "the job's tenant is not configured: no TLS settings to post with";
        } else {
            std::string url = hooks.webhook;
            std::string payload = body;
            const WebhookPolicy policy;
            o = co_await post_webhook(t->http.get(), std::move(url), std::move(payload), policy);
        }
        if (stopping_) co_return;
        record(o);
    }
    if (auto r = store_.set_hooks_done(run.id, unix_now()); !r)
        spdlog::error("job={} run={}: {}", log_value(run.job), run.id,
                      log_error(r.error().message));
}

asio::awaitable<json> Daemon::diff_for_hooks(const store::RunContents* run) {
    auto runs = store_.runs_of_job(run->job);
    if (!runs) co_return json{{"error", runs.error().message}};
    std::optional<std::int64_t> previous;
    for (const store::RunBrief& b : *runs)
        if (b.id < run->id && b.closed_at && !b.evidence_removed_at) {
            previous = b.id;
            break;
        }
    if (!previous) co_return json{{"error", "no earlier run with evidence to compare with"}};
    auto before = store_.run_contents(*previous);
    if (!before) co_return json{{"error", before.error().message}};
    evidence::ResultOptions options;
    options.max_zip_bytes = kDaemonZipCap;
    options.cancel = &cancel_work_;
    const std::string dir_a = run_folder(cfg_, run->job, *previous);
    const std::string dir_b = run_folder(cfg_, run->job, run->id);
    std::function<json()> compare = [a_run = std::move(*before), b_run = *run, dir_a, dir_b,
                                     options]() -> json {
        const evidence::RunResults a = evidence::build_results(a_run, dir_a, options);
        const evidence::RunResults b = evidence::build_results(b_run, dir_b, options);
        json d = evidence::to_json(evidence::diff_runs(a, b), b_run.job);
        // Unchanged machines are the bulk of a big fleet: counted, not listed.
        json listed = json::array();
        for (json& m : d["machines"])
            if (m["change"] != "unchanged") listed.push_back(std::move(m));
        d["machines"] = std::move(listed);
        return d;
    };
    auto diff = co_await off_io<json>(std::move(compare));
    co_return diff ? std::move(*diff) : json{{"error", "the daemon stopped"}};
}

asio::awaitable<void> Daemon::apply_retention(const store::RunContents* closed_run) {
    const store::RunContents& closed = *closed_run;
    const json definition = json::parse(closed.definition, nullptr, false);
    auto read = jobs::evidence_keep_of(definition);
    if (!read) throw std::runtime_error("evidence: " + read.error().message);
    const jobs::EvidenceKeep keep = *read;
    if (keep.keeps_all()) co_return;
    auto runs = store_.runs_of_job(closed.job);
    if (!runs) throw std::runtime_error(runs.error().message);
    const Millis now = unix_now();
    std::int64_t kept = 0;
    for (const store::RunBrief& b : *runs) {  // newest first
        if (!b.closed_at || b.evidence_removed_at) continue;
        ++kept;
        std::string why;
        if (keep.keep_runs && kept > *keep.keep_runs)
            why = "evidence.keep_runs: " + std::to_string(*keep.keep_runs);
        else if (keep.keep_for && b.finished_at && *b.finished_at < now - keep.keep_for->count())
            why = "evidence.keep_for: older than " + format_duration(*keep.keep_for);
        if (why.empty()) continue;
        const std::string dir = run_folder(cfg_, closed.job, b.id);
        // remove_all never follows a symbolic link: it removes the link.
        std::function<std::error_code()> remove = [dir] {
            std::error_code e;
            std::filesystem::remove_all(dir, e);
            return e;
        };
        const auto removed = co_await off_io<std::error_code>(std::move(remove));
        if (!removed) co_return;  // stopping: done at the next close
        const std::error_code ec = *removed;
        if (ec) {
            spdlog::error("job={} run={} evidence not removed ({}): {}", log_value(closed.job),
                          b.id, why, log_error(ec.message()));
            continue;
        }
        const json detail = {
            {"folder", dir}, {"digest", b.digest ? json(*b.digest) : json(nullptr)}, {"why", why}};
        if (auto r = store_.mark_evidence_removed(
                b.id, detail.dump(-1, ' ', false, json::error_handler_t::replace), now);
            !r)
            throw std::runtime_error(r.error().message);
        spdlog::info("job={} run={} evidence removed: {} digest={}", log_value(closed.job), b.id,
                     why, b.digest.value_or("none"));
    }
}

}  // namespace lrsched::runtime
