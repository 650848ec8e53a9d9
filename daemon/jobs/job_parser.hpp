// Job files (SPEC §2): bounded YAML to a validated Job, every problem of a
// file reported with file:line:col, not just the first. Pure but for reading
// the `from_file` target list. The daemon and `lrsched validate` do not call
// this directly: they load through jobs/job_loader.hpp.
#pragma once

#include "common/diagnostic.hpp"
#include "common/sha256.hpp"
#include "common/yaml_reader.hpp"
#include "jobs/job.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::jobs {

// Caps on what one job file and its target list may hold. A file over a cap
// is refused in milliseconds with a message naming the cap. The node cap is
// what keeps the tree small: yaml-cpp spends about 500 bytes per node, and a
// 1 MiB job file of 22,000 inline machine ids has 22,000 nodes.
inline constexpr YamlLimits kJobYamlLimits{1 << 20, 32, 50'000, 4u << 20, 32'768};
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

// A file's identity (inode, size, modification time), taken just before it
// is read, so that a change after the read is noticed by the next scan.
struct FileStamp {
    std::uint64_t ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
};
FileStamp stamp_file(const std::string& path);  // all zero when it cannot be stat'ed

// What parsing a job read besides the job file itself. Filled as far as the
// parse got, errors included: a job refused for its target list is parsed
// again when that list changes.
struct JobReads {
    std::string targets_path;  // from_file, resolved (or as written when it cannot be)
    FileStamp targets_stamp;
    // When set, fed the target list's bytes as read (then they are freed:
    // up to 32 MiB that the job no longer needs once parsed).
    Sha256* hash = nullptr;
};

// "nightly-autoruns.yaml" -> "nightly-autoruns"; nullopt when the stem is not
// a valid job name or the extension is not .yaml/.yml.
std::optional<std::string> job_name_from_path(std::string_view path);

// Parses job file `path` whose content is `text`.
std::optional<Job> parse_job(std::string_view text,
                             const std::string& path,
                             const JobContext& ctx,
                             Diagnostics& diags,
                             JobReads* reads = nullptr);

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
