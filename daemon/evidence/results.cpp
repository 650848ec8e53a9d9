// Building a run's result table and writing results.jsonl; see results.hpp.
#include "evidence/results.hpp"

#include "common/clock.hpp"
#include "common/sha256.hpp"
#include "common/text.hpp"
#include "sessions/session_state.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <unistd.h>

namespace lrsched::evidence {
namespace {

using nlohmann::json;

// What a RunScript produced, as one hash: its exit code, its output and its
// errors (each already without NULs and the transcript header and footer).
std::string transcript_key(const Transcript& t) {
    return sha256_hex("exit_code=" + (t.exit_code ? std::to_string(*t.exit_code) : "none") +
                      "\noutput=" + t.output.sha256 + "\nerrors=" + t.errors.sha256 + "\n");
}

bool cancelled(const ResultOptions& o) {
    return o.cancel && o.cancel->load(std::memory_order_relaxed);
}

ResultFile read_file(const store::ArtifactRow& a,
                     const std::string& run_dir,
                     const ResultOptions& options) {
    ResultFile f;
    f.index = a.command_index;
    f.type = a.command_type;
    f.remote = a.remote;
    f.file = a.file;
    f.bytes = a.bytes;
    f.sha256 = a.sha256;
    f.content_sha256 = a.sha256;
    const std::string path = run_dir + "/" + a.file;
    if (a.command_type == "RunScript") {
        auto t = read_transcript(path, options.preview_cap);
        if (t) {
            f.content_sha256 = transcript_key(*t);
            f.transcript = std::move(*t);
        } else {
            f.note = "compared as bytes: " + t.error().message;
        }
    } else if (a.command_type == "GetFile") {
        if (static_cast<std::uint64_t>(a.bytes) > options.max_zip_bytes) {
            f.note = "compared as bytes: the ZIP is larger than the daemon opens (" +
                     std::to_string(options.max_zip_bytes) + " bytes)";
        } else if (auto z = read_zip_content(path, options.zip_limits)) {
            f.content_sha256 = z->content_sha256;
            f.zip = std::move(*z);
        } else {
            f.note = "compared as bytes: " + z.error().message;
        }
    }
    return f;
}

std::optional<std::string> iso(const std::optional<std::int64_t>& ms) {
    if (!ms) return std::nullopt;
    return utc_iso8601(*ms, TimePrecision::seconds);
}

json text_json(const TextPart& t) {
    return {
        {"text", t.preview}, {"bytes", t.bytes}, {"truncated", t.truncated}, {"sha256", t.sha256}};
}

}  // namespace

RunResults build_results(const store::RunContents& run,
                         const std::string& run_dir,
                         const ResultOptions& options) {
    RunResults out;
    out.job = run.job;
    out.run = run.id;
    out.finished_at = run.finished_at;
    out.digest = run.digest;
    std::map<std::int64_t, std::vector<const store::ArtifactRow*>> by_session;
    for (const store::ArtifactRow& a : run.artifacts)
        by_session[a.session_id].push_back(&a);
    for (const store::SessionRow& s : run.sessions) {
        ResultRow r;
        r.machine_id = s.machine_id;
        r.computer_dns_name = s.computer_dns_name.value_or("");
        r.state = std::string(to_string(s.state));
        r.attempt = s.attempt;
        r.exit_code = s.exit_code;
        r.action_id = s.action_id.value_or("");
        r.submitted_at = s.submitted_at;
        if (sessions::is_terminal(s.state)) r.ended_at = s.updated_at;
        r.last_error = s.last_error.value_or("");
        // The results of the session's last action: an earlier attempt's
        // stay in the folder and the manifest, but the row says what the
        // machine gave in the end.
        std::vector<const store::ArtifactRow*> mine = by_session[s.id];
        const bool has_current = std::any_of(
            mine.begin(), mine.end(), [&](const auto* a) { return a->action_id == r.action_id; });
        for (const store::ArtifactRow* a : mine) {
            if (has_current && a->action_id != r.action_id) continue;
            if (cancelled(options)) {
                out.cut_short = true;
                break;
            }
            r.files.push_back(read_file(*a, run_dir, options));
        }
        std::stable_sort(
            r.files.begin(), r.files.end(),
            [](const ResultFile& a, const ResultFile& b) { return a.index < b.index; });
        out.rows.push_back(std::move(r));
    }
    std::stable_sort(out.rows.begin(), out.rows.end(), [](const ResultRow& a, const ResultRow& b) {
        return a.name() != b.name() ? a.name() < b.name() : a.machine_id < b.machine_id;
    });
    return out;
}

json to_json(const ResultRow& row, const std::string& job, std::int64_t run) {
    json results = json::array();
    for (const ResultFile& f : row.files) {
        json j = {{"index", f.index},
                  {"type", f.type},
                  {"remote", f.remote},
                  {"file", f.file},
                  {"bytes", f.bytes},
                  {"sha256", f.sha256},
                  {"content_sha256", f.content_sha256}};
        if (!f.note.empty()) j["note"] = f.note;
        if (f.transcript) {
            const Transcript& t = *f.transcript;
            j["script_name"] = t.script_name;
            j["exit_code"] = t.exit_code ? json(*t.exit_code) : json(nullptr);
            j["output"] = text_json(t.output);
            j["errors"] = text_json(t.errors);
            j["transcript_header"] = t.header;
            j["transcript_footer"] = t.footer;
        }
        if (f.zip) {
            json entries = json::array();
            for (const ZipEntry& e : f.zip->entries)
                entries.push_back({{"name", e.name}, {"bytes", e.bytes}, {"sha256", e.sha256}});
            j["entries"] = std::move(entries);
        }
        results.push_back(std::move(j));
    }
    const auto opt = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
    const auto time = [](const std::optional<std::int64_t>& ms) {
        const auto t = iso(ms);
        return t ? json(*t) : json(nullptr);
    };
    return {{"job", job},
            {"run", run},
            {"machine_id", row.machine_id},
            {"computer_dns_name", opt(row.computer_dns_name)},
            {"state", row.state},
            {"attempt", row.attempt},
            {"exit_code", row.exit_code ? json(*row.exit_code) : json(nullptr)},
            {"action_id", opt(row.action_id)},
            {"submitted_at", time(row.submitted_at)},
            {"ended_at", time(row.ended_at)},
            {"last_error", opt(row.last_error)},
            {"results", std::move(results)}};
}

Result<WrittenResults> write_results_file(const RunResults& results, const std::string& run_dir) {
    const int dir = ::open(run_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return Error{Errc::io_error,
                     "cannot open the run folder: " + std::string(std::strerror(errno))};
    const auto fail = [dir](const std::string& what) {
        const int err = errno;
        ::close(dir);
        return Error{Errc::io_error, what + ": " + std::strerror(err)};
    };
    const std::string temp = std::string(".") + kResultsFile + ".part";
    ::unlinkat(dir, temp.c_str(), 0);
    const int fd =
        ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) return fail("cannot create " + temp);
    WrittenResults out;
    Sha256 hash;
    std::string buffer;
    const auto flush = [&]() -> bool {
        std::size_t done = 0;
        while (done < buffer.size()) {
            const ssize_t n = ::write(fd, buffer.data() + done, buffer.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return false;
            done += static_cast<std::size_t>(n);
        }
        hash.update(buffer);
        out.bytes += buffer.size();
        buffer.clear();
        return true;
    };
    bool written = true;
    for (const ResultRow& row : results.rows) {
        // replace: a server's string is not always valid UTF-8.
        buffer += to_json(row, results.job, results.run)
                      .dump(-1, ' ', false, json::error_handler_t::replace);
        buffer += '\n';
        if (buffer.size() >= std::size_t{64} * 1024 && !(written = flush())) break;
    }
    if (written) written = flush();
    if (!written || ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlinkat(dir, temp.c_str(), 0);
        errno = err;
        return fail(std::string("cannot write ") + kResultsFile +
                    (err == ENOSPC ? " (disk full)" : ""));
    }
    ::close(fd);
    if (::renameat(dir, temp.c_str(), dir, kResultsFile) != 0) return fail("cannot rename " + temp);
    if (::fsync(dir) != 0) return fail("cannot fsync the run folder");
    ::close(dir);
    out.sha256 = hash.hex_digest();
    return out;
}

}  // namespace lrsched::evidence
