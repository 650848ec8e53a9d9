// Collecting results (SPEC §4, issue 5): per tenant, one loop takes the
// sessions whose actions ended, asks for each result's link and streams it
// to disk through evidence::ArtifactWriter, in the crash-safe order the
// writer's header gives; then the manifest line, then the store row. The
// first collection of a run after a start squares its folder with the
// store (evidence/recovery.hpp). Collections run one at a time per tenant:
// the read budget, not the disk, is what limits them.
#include "common/byte_size.hpp"
#include "common/crash_point.hpp"
#include "common/log_text.hpp"
#include "config/policy.hpp"
#include "evidence/manifest.hpp"
#include "evidence/naming.hpp"
#include "evidence/transcript.hpp"
#include "runtime/shell.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace lrsched::runtime {
namespace {

// The exit code in a RunScript transcript, read by the same streaming
// reader `results` uses (raw NULs tolerated, memory flat). Capped in size:
// it runs on the io thread.
std::optional<std::int64_t> transcript_exit_code(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::file_size(path, ec) > policy::kMaxTranscript || ec) return std::nullopt;
    auto t = evidence::read_transcript(path, 0);
    if (!t) return std::nullopt;
    return t->exit_code;
}

}  // namespace

asio::awaitable<void> Daemon::collect_loop(TenantRt* t) {
    Dispatcher& d = *t->dispatcher;
    while (!stopping_) {
        for (Collection& c : d.collections_due(unix_now())) {
            const std::int64_t id = c.session_id;
            auto r = co_await collect(t, std::move(c));
            if (stopping_) co_return;  // the session stays collecting: done again at start-up
            if (r) {
                d.collected(id, *r, unix_now());
                close_event_.notify();  // the run may have ended with it
            } else {
                d.collect_failed(id, r.error().message, unix_now());
            }
        }
        wake_dispatch_if_needed(t);
        co_await t->collect.wait(d.next_collection());
    }
}

asio::awaitable<Result<evidence::ArtifactWriter::Stored>> Daemon::fetch(TenantRt* t,
                                                                        const Collection* c,
                                                                        const ResultItem* item,
                                                                        std::string run_dir,
                                                                        std::string machine,
                                                                        std::uint64_t cap) {
    // A link lives 30 minutes: an expired one (403) is asked for again.
    for (int attempt = 0;; ++attempt) {
        auto link = co_await t->api->result_link(c->action_id, item->index);
        if (!link) co_return std::move(link).error();
        auto writer = evidence::ArtifactWriter::open(run_dir, machine, item->name, cap);
        if (!writer) co_return std::move(writer).error();
        evidence::ArtifactWriter* w = &*writer;
        net::BodySink sink = [w](std::string_view chunk) { return w->write(chunk); };
        auto got = co_await t->api->download(std::move(*link), std::move(sink), cap);
        // Results are kept as delivered (evidence is never altered) and named
        // for what they are: a GetFile result is a ZIP holding the file, a
        // RunScript result the transcript JSON.
        if (got) {
            const bool zip = w->head() == std::string_view("PK\x03\x04", 4);
            const bool json = item->type == "RunScript" && w->head().substr(0, 1) == "{";
            co_return w->commit(zip ? ".zip" : json ? ".json" : "");
        }
        if (got.error().code != make_error_code(Errc::permission_denied) ||
            attempt >= policy::kLinkRefreshes)
            co_return std::move(got).error();
    }
}

asio::awaitable<Result<Collected>> Daemon::collect(TenantRt* t, Collection c) {
    const std::string run_dir =
        cfg_.state_dir + "/evidence/" + c.job + "/" + std::to_string(c.run_id);
    const std::string machine = evidence::machine_folder(c.computer_dns_name, c.machine_id);
    // The first collection of a run in this process squares the folder with
    // the store (what a crash left); from then on the store says what is stored.
    auto tally_it = run_tallies_.find(c.run_id);
    if (tally_it == run_tallies_.end()) {
        auto tally = evidence::reconcile_run_folder(store_, c.run_id, run_dir, unix_now());
        if (!tally) co_return std::move(tally).error();
        if (tally->recorded + tally->removed > 0)
            spdlog::warn(
                "job={} run={} evidence after a crash: {} listed file(s) recorded, {} "
                "leftover(s) removed",
                c.job, c.run_id, tally->recorded, tally->removed);
        tally_it = run_tallies_.emplace(c.run_id, *tally).first;
    }
    std::uint64_t& run_bytes = tally_it->second.bytes;
    auto done = store_.artifacts_of_session(c.session_id);
    if (!done) co_return std::move(done).error();
    Collected out;
    const config::EvidenceConfig& caps = cfg_.evidence;
    for (const ResultItem& item : c.items) {
        const auto stored_before =
            std::find_if(done->begin(), done->end(), [&](const store::ArtifactRow& a) {
                return a.action_id == c.action_id && a.command_index == item.index;
            });
        std::string file;
        if (stored_before != done->end()) {
            file = stored_before->file;
        } else {
            // The smaller of the file cap and what the run cap leaves.
            std::uint64_t cap = caps.max_file_size;
            std::string over =
                "larger than evidence.max_file_size (" + format_byte_size(caps.max_file_size) + ")";
            if (caps.max_run_size) {
                const std::uint64_t left =
                    *caps.max_run_size - std::min(run_bytes, *caps.max_run_size);
                if (left < cap) {
                    cap = left;
                    over = "the run's evidence would exceed evidence.max_run_size (" +
                           format_byte_size(*caps.max_run_size) + ")";
                }
            }
            Result<evidence::ArtifactWriter::Stored> stored =
                Error{Errc::limit_exceeded, "the run cap is reached"};
            if (cap > 0) stored = co_await fetch(t, &c, &item, run_dir, machine, cap);
            if (stopping_) co_return Error{Errc::cancelled, "stopping"};
            if (!stored && stored.error().code == make_error_code(Errc::limit_exceeded)) {
                spdlog::error("job={} run={} machine={} action={} file={} not stored: {}", c.job,
                              c.run_id, log_value(machine), log_value(c.action_id),
                              log_value(item.name), over);
                out.not_stored.push_back(item.name + ": " + over);
                continue;
            }
            if (!stored) co_return std::move(stored).error();
            evidence::ManifestEntry entry;
            entry.job = c.job;
            entry.run = c.run_id;
            entry.machine_id = c.machine_id;
            entry.computer_dns_name = c.computer_dns_name;
            entry.action_id = c.action_id;
            entry.command_index = item.index;
            entry.command_type = item.type;
            entry.remote = item.remote;
            entry.file = stored->file;
            entry.bytes = static_cast<std::int64_t>(stored->bytes);
            entry.sha256 = stored->sha256;
            entry.downloaded_at = utc_iso8601(unix_now());
            entry.action_status = c.action_status;
            auto line_hash = evidence::append_manifest(run_dir, entry);
            if (!line_hash) {
                // Unlisted, the file would be a leftover: it goes now, and
                // the next attempt writes it again under the same name.
                std::error_code ec;
                std::filesystem::remove(run_dir + "/" + stored->file, ec);
                co_return std::move(line_hash).error();
            }
            crash_point("evidence.after_manifest");
            run_bytes += stored->bytes;
            const store::ArtifactRow row{
                0,          c.session_id, c.action_id,  item.index, item.type,      item.remote,
                entry.file, entry.bytes,  entry.sha256, unix_now(), c.action_status};
            if (auto r = store_.add_artifact(row, *line_hash); !r) {
                run_tallies_.erase(c.run_id);  // listed, not recorded: square it again
                co_return r.error();
            }
            ++t->result_files;
            t->result_bytes += stored->bytes;
            spdlog::info("job={} run={} machine={} action={} file={} bytes={} sha256={}", c.job,
                         c.run_id, log_value(machine), log_value(c.action_id),
                         log_value(entry.file), entry.bytes, entry.sha256);
            file = entry.file;
        }
        if (item.type == "RunScript")
            if (auto code = transcript_exit_code(run_dir + "/" + file)) out.exit_code = code;
    }
    co_return out;
}

}  // namespace lrsched::runtime
