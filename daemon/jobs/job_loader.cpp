#include "jobs/job_loader.hpp"

#include <nlohmann/json.hpp>

#include <exception>

namespace lrsched::jobs {
namespace {

std::optional<LoadedJob> load(std::string_view text,
                              const std::string& path,
                              const JobContext& ctx,
                              Diagnostics& diags,
                              JobSources& sources) {
    Sha256 h;
    h.update(text);
    sources.reads.hash = &h;  // the parser adds the from_file list's bytes
    auto job = parse_job(text, path, ctx, diags, &sources.reads);
    sources.reads.hash = nullptr;
    if (!job) return std::nullopt;
    auto definition = freeze_job(*job, diags);
    if (!definition) return std::nullopt;
    return LoadedJob{std::move(*job), std::move(*definition), h.hex_digest()};
}

// The last line of defence of the loop that calls us: a bug or an exhausted
// allocator while loading one file must cost that file, not the daemon.
template <typename F>
std::optional<LoadedJob> guarded(const std::string& path, Diagnostics& diags, F&& f) {
    try {
        return f();
    } catch (const std::exception& e) {
        diags.error({path, 1, 1}, std::string("cannot be loaded: ") + e.what());
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> freeze_job(const Job& job, Diagnostics& diags) {
    try {
        return to_json(job).dump();
    } catch (const std::exception& e) {
        // nlohmann refuses strings that are not UTF-8 (type_error.316);
        // load_yaml lets none through, so this is a bug or memory.
        diags.error({job.source_path, 1, 1},
                    std::string("the job cannot be stored as JSON: ") + e.what());
    }
    return std::nullopt;
}

std::optional<LoadedJob> load_job_text(std::string_view text,
                                       const std::string& path,
                                       const JobContext& ctx,
                                       Diagnostics& diags,
                                       JobSources* sources) {
    return guarded(path, diags, [&] {
        JobSources local;
        return load(text, path, ctx, diags, sources ? *sources : local);
    });
}

std::optional<LoadedJob> load_job_file(const std::string& path,
                                       const JobContext& ctx,
                                       Diagnostics& diags,
                                       JobSources* sources) {
    return guarded(path, diags, [&]() -> std::optional<LoadedJob> {
        JobSources local;
        JobSources& s = sources ? *sources : local;
        s.job_stamp = stamp_file(path);
        auto text = read_text_file(path, kJobYamlLimits.max_bytes, diags);
        if (!text) return std::nullopt;
        return load(*text, path, ctx, diags, s);
    });
}

std::optional<Job> load_job(const std::string& path, const JobContext& ctx, Diagnostics& diags) {
    auto lj = load_job_file(path, ctx, diags);
    if (!lj) return std::nullopt;
    return std::move(lj->job);
}

}  // namespace lrsched::jobs
