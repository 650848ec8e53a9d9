#include "jobs/registry.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

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

std::set<std::string> JobRegistry::target_folders() const {
    std::set<std::string> out;
    for (const auto& entry : seen_)
        if (!entry.second.targets_path.empty())
            out.insert(
                fs::path(entry.second.targets_path).parent_path().lexically_normal().string());
    return out;
}

ScanReport JobRegistry::scan() {
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
        if (const auto prev = seen_.find(path); prev != seen_.end()) {
            const Seen& p = prev->second;
            if (p.file == stamp_file(path) &&
                (p.targets_path.empty() || p.targets == stamp_file(p.targets_path)))
                continue;
        }
        Diagnostics diags;
        JobSources sources;
        auto loaded = load_job_file(path, ctx_, diags, &sources);
        seen_[path] = {sources.job_stamp, sources.reads.targets_stamp, sources.reads.targets_path};
        for (const auto& d : diags.all())
            if (d.severity == Severity::warning) report.warnings.push_back(d.to_string());
        if (!loaded) {
            report.refused.emplace_back(name.value_or(path), diags.to_string());
            continue;
        }
        auto& slot = jobs_[loaded->job.name];
        if (slot.sha256 != loaded->sha256) {
            slot = std::move(*loaded);
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
