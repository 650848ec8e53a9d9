#include "jobs/registry.hpp"

#include "common/sha256.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sys/stat.h>

namespace lrsched::jobs {
namespace {

namespace fs = std::filesystem;

}  // namespace

Result<std::vector<std::string>> list_job_files(const std::string& dir) {
    std::vector<std::string> paths;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const auto ext = e.path().extension();
        if ((ext == ".yaml" || ext == ".yml") && e.is_regular_file(ec))
            paths.push_back(e.path().string());
    }
    if (ec) return Error{Errc::io_error, dir + ": cannot read the jobs directory: " + ec.message()};
    std::sort(paths.begin(), paths.end());
    return paths;
}

const LoadedJob* JobRegistry::find(std::string_view name) const {
    const auto it = jobs_.find(std::string(name));
    return it == jobs_.end() ? nullptr : &it->second;
}

ScanReport JobRegistry::scan() {
    const auto signature = [](const std::string& path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return Signature{};
        return Signature{
            static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_size),
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
    };
    ScanReport report;
    auto listed = list_job_files(ctx_.jobs_dir);
    if (!listed) {
        // An unreadable directory removes nothing: a transient error must not withdraw every job.
        report.refused.emplace_back(ctx_.jobs_dir, listed.error().message);
        return report;
    }
    const std::vector<std::string> paths = std::move(*listed);
    report.listed = true;

    std::map<std::string, std::string> path_of_name;
    for (const auto& path : paths) {
        const auto name = job_name_from_path(path);
        if (name) {
            if (const auto [it, fresh] = path_of_name.emplace(*name, path); !fresh) {
                report.refused.emplace_back(*name, path + ":1:1: job " + *name +
                                                       " is already defined by " + it->second +
                                                       "; one file per job");
                continue;
            }
            report.present.insert(*name);
        }
        Seen now{signature(path), {}, {}};
        const auto prev = seen_.find(path);
        if (prev != seen_.end()) {
            now.targets_path = prev->second.targets_path;
            if (!now.targets_path.empty()) now.targets = signature(now.targets_path);
            if (prev->second.file == now.file && prev->second.targets == now.targets) continue;
        }
        Diagnostics diags;
        auto job = load_job(path, ctx_, diags);
        for (const auto& d : diags.all())
            if (d.severity == Severity::warning) report.warnings.push_back(d.to_string());
        if (!job) {
            seen_[path] = now;
            report.refused.emplace_back(name.value_or(path), diags.to_string());
            continue;
        }
        now.targets_path = job->targets.from_file_path;
        now.targets = now.targets_path.empty() ? Signature{} : signature(now.targets_path);
        seen_[path] = now;
        Sha256 h;
        auto text = sha256_file(path);
        h.update(text ? *text : std::string());
        if (!now.targets_path.empty()) {
            auto targets = sha256_file(now.targets_path);
            h.update(targets ? *targets : std::string());
        }
        std::string digest = h.hex_digest();
        auto& slot = jobs_[job->name];
        if (slot.sha256 != digest) {
            slot = LoadedJob{std::move(*job), std::move(digest)};
            report.changed.push_back(slot.job.name);
        }
    }
    for (auto it = jobs_.begin(); it != jobs_.end();) {
        if (report.present.count(it->first) == 0) {
            report.removed.push_back(it->first);
            it = jobs_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = seen_.begin(); it != seen_.end();)
        it = std::find(paths.begin(), paths.end(), it->first) == paths.end() ? seen_.erase(it)
                                                                             : std::next(it);
    return report;
}

}  // namespace lrsched::jobs
