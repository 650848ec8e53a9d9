// Writing one evidence file so that a crash at any point leaves either no
// final file, or a final file that is complete (SPEC §4, issue 5 item 2):
// stream into a temporary `.<name>.part` (created exclusively, never through
// a symbolic link), hash and count on the way, fsync it, rename it to its
// final (collision-free) name, fsync the folder; then the caller appends the
// manifest line (append_manifest, fsync'd) and records the artifact in the
// store, in that order. Memory stays flat whatever the size: chunks are
// written as they come. One writer per download; a few at a time.
#pragma once

#include "common/result.hpp"
#include "common/sha256.hpp"
#include "evidence/manifest.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::evidence {

class ArtifactWriter {
  public:
    // Creates `<run_dir>/<machine>/` when needed (refusing a symbolic link
    // there) and the temporary file for `name`. `cap`: the most bytes
    // accepted (Errc::limit_exceeded beyond it).
    static Result<ArtifactWriter> open(const std::string& run_dir,
                                       const std::string& machine,
                                       const std::string& name,
                                       std::uint64_t cap);
    ArtifactWriter(ArtifactWriter&&) noexcept;
    ArtifactWriter& operator=(ArtifactWriter&&) = delete;
    ArtifactWriter(const ArtifactWriter&) = delete;
    ArtifactWriter& operator=(const ArtifactWriter&) = delete;
    // Removes the temporary file unless commit() succeeded.
    ~ArtifactWriter();

    // A full disk is Errc::io_error with "disk full" in the message.
    Result<void> write(std::string_view chunk);

    struct Stored {
        std::string file;  // relative to the run folder, '/'-separated
        std::uint64_t bytes = 0;
        std::string sha256;
    };
    // fsync, rename to the final name plus `suffix` (with a ~N suffix if
    // taken), fsync the folder.
    Result<Stored> commit(std::string_view suffix = "");
    // The first bytes written (up to 4): a file's signature.
    const std::string& head() const noexcept { return head_; }

    std::uint64_t bytes() const noexcept { return bytes_; }

  private:
    ArtifactWriter() = default;
    int dir_fd_ = -1;
    int fd_ = -1;
    std::string machine_;
    std::string name_;
    std::string temp_;
    std::uint64_t cap_ = 0;
    std::uint64_t bytes_ = 0;
    std::string head_;
    Sha256 hash_;
};

// Appends one line to `<run_dir>/manifest.jsonl` and fsyncs it (and the run
// folder when the manifest is new). A new manifest starts with the chain head
// (fresh seed); the line's `prev` is the hash of the last complete line found
// (so the chain goes on after a crash), except in a manifest written before
// the chain, which stays unchained. Returns the new line's hash: the run
// digest so far. `entry.prev` is ignored.
Result<std::string> append_manifest(const std::string& run_dir, const ManifestEntry& entry);

// The SHA-256 of the manifest's last complete line (the run digest once the
// run has ended); nullopt without a manifest or a complete line.
std::optional<std::string> manifest_digest(const std::string& run_dir);

// The manifest's readable lines (unreadable ones are skipped: verify reports
// them). An absent manifest is an empty list.
std::vector<ManifestEntry> read_manifest(const std::string& run_dir);

// Removes what a collection cut off by a crash left in `<run_dir>/<machine>/`:
// `.*.part` files (before the rename) and files the manifest does not list
// (renamed, but the manifest line never written). `listed` holds the
// manifest's `file` values. Returns how many files went.
std::size_t remove_unrecorded(const std::string& run_dir,
                              const std::string& machine,
                              const std::set<std::string>& listed);

}  // namespace lrsched::evidence
