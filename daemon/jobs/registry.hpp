// The jobs in force: what `jobs_dir` holds, re-read when it changes (SPEC §2:
// "notices new, changed and deleted files within a few seconds"). A file that
// stops validating keeps its last valid version in force; its error is
// reported once per change of the file, not on every scan. Files are loaded
// through jobs/job_loader.hpp, the path `lrsched validate` takes. Expected
// load: a few dozen job files, scanned when inotify reports a change, at
// SIGHUP and as a safety net (runtime/jobs_loop.cpp, runtime/jobs_watch.hpp);
// a file is parsed again only when its (or its target list's) inode, size or
// mtime changed.
#pragma once

#include "common/result.hpp"
#include "jobs/job_loader.hpp"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::jobs {

// The job files (*.yaml, *.yml, regular files) in `dir`, sorted; an error
// naming the directory when it cannot be read.
Result<std::vector<std::string>> list_job_files(const std::string& dir);

struct ScanReport {
    std::vector<std::string> changed;  // new or changed jobs now in force
    std::vector<std::string> removed;  // jobs whose file is gone
    // Files refused this scan: the job name (or the path when it has no
    // valid name) and every diagnostic, one per line. A job of that name
    // already in force stays in force.
    std::vector<std::pair<std::string, std::string>> refused;
    std::vector<std::string> warnings;  // of the files parsed this scan
    // Whether jobs_dir could be read; when it was, the names of every job
    // file in it, in force or refused: a job not among them has no file.
    bool listed = false;
    std::set<std::string> present;
};

class JobRegistry {
  public:
    explicit JobRegistry(JobContext ctx) : ctx_(std::move(ctx)) {}

    // Reads jobs_dir and brings the jobs in force up to date.
    ScanReport scan();

    const std::map<std::string, LoadedJob>& jobs() const noexcept { return jobs_; }
    const LoadedJob* find(std::string_view name) const;
    // The folders holding the target lists (from_file) of the files last
    // read, valid or not: what a watch of jobs_dir must also watch.
    std::set<std::string> target_folders() const;

  private:
    // What the last load of a path read, valid or not.
    struct Seen {
        FileStamp file;
        FileStamp targets;  // of from_file, when the job names one
        std::string targets_path;
    };

    JobContext ctx_;
    std::map<std::string, LoadedJob> jobs_;  // by name
    std::map<std::string, Seen> seen_;       // by path: what was last parsed (valid or not)
};

}  // namespace lrsched::jobs
