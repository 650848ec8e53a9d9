// The one load path of a job file, taken by the daemon's registry and by
// `lrsched validate` alike so that they cannot disagree: read the job file
// (and its from_file list) once, parse, validate, and freeze the job to the
// canonical JSON the store keeps, hashing exactly the bytes that were
// parsed. Nothing escapes it as an exception: whatever goes wrong becomes a
// diagnostic with a position. Expected load: a few dozen job files per scan;
// a job's target list may hold 10^6 entries.
#pragma once

#include "jobs/job_parser.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lrsched::jobs {

struct LoadedJob {
    Job job;
    // to_json(job).dump(): what jobs.definition and runs.definition hold.
    std::string definition;
    // SHA-256 of the job file's bytes, then its from_file list's, as parsed.
    std::string sha256;
};

// What a load read: the registry parses a file again when one of these changes.
struct JobSources {
    FileStamp job_stamp;  // taken just before the job file was read
    JobReads reads;
};

std::optional<LoadedJob> load_job_file(const std::string& path,
                                       const JobContext& ctx,
                                       Diagnostics& diags,
                                       JobSources* sources = nullptr);

// The same from text already read as `path` (tests, fuzzing).
std::optional<LoadedJob> load_job_text(std::string_view text,
                                       const std::string& path,
                                       const JobContext& ctx,
                                       Diagnostics& diags,
                                       JobSources* sources = nullptr);

// The job's stored definition; a failure (text that JSON cannot hold, memory)
// is reported against the job file, never thrown.
std::optional<std::string> freeze_job(const Job& job, Diagnostics& diags);

// load_job_file's job alone (`lrsched plan`).
std::optional<Job> load_job(const std::string& path, const JobContext& ctx, Diagnostics& diags);

}  // namespace lrsched::jobs
