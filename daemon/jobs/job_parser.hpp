// Job files (SPEC §2): bounded YAML to a validated Job, every problem of a
// file reported with file:line:col, not just the first. Pure but for reading
// the job file and its `from_file` target list.
#pragma once

#include "common/diagnostic.hpp"
#include "common/yaml_reader.hpp"
#include "jobs/job.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::jobs {

// Caps on what one job file and its target list may hold. A file over a cap
// is refused in milliseconds with a message naming the cap.
inline constexpr YamlLimits kJobYamlLimits{1 << 20, 32, 200'000};
inline constexpr std::size_t kMaxTargetFileBytes = 32u << 20;
inline constexpr std::size_t kMaxTargetFileEntries = 1'000'000;

struct JobContext {
    // Where job files live; `from_file` must resolve inside it. Empty: the
    // job file's own directory.
    std::string jobs_dir;
    // The configured tenant names; empty when validating without a
    // configuration (then `tenant` is only checked for its form).
    std::vector<std::string> tenants;
};

// "nightly-autoruns.yaml" -> "nightly-autoruns"; nullopt when the stem is not
// a valid job name or the extension is not .yaml/.yml.
std::optional<std::string> job_name_from_path(std::string_view path);

// Parses job file `path` whose content is `text`.
std::optional<Job> parse_job(std::string_view text,
                             const std::string& path,
                             const JobContext& ctx,
                             Diagnostics& diags);

// Reads and parses a job file.
std::optional<Job> load_job(const std::string& path, const JobContext& ctx, Diagnostics& diags);

// A target list: one machine id or hostname per line, '#' starts a comment,
// blank lines ignored. Bad lines are reported with their line numbers.
struct TargetList {
    std::vector<std::string> machines;
    std::vector<std::string> hostnames;
};
std::optional<TargetList> parse_target_list(std::string_view text,
                                            const std::string& path,
                                            Diagnostics& diags);

}  // namespace lrsched::jobs
