// A tenant's `library_dir` (SPEC §5): the local scripts and files the daemon
// keeps in the tenant's live response library. Read at each run start and
// at each re-check of a job waiting for the library: tens of files of up to
// 20 MB. Digests are cached by (size, mtime, inode), so an unchanged folder
// costs a few stat calls, not a re-read of every file.
//
// Only regular files directly in the folder count. Dot-files and
// sub-folders are ignored; symbolic links, names the library would refuse
// and files over the upload limit are skipped with a reason (the caller
// logs it). Reading never follows a link (O_NOFOLLOW), so a file swapped
// for a link after the scan is refused, not uploaded.
#pragma once

#include "api/library.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lrsched::runtime {

using api::LibraryScan;

class LibraryDir {
  public:
    explicit LibraryDir(std::string dir, std::uint64_t max_bytes = api::kMaxLibraryUpload)
        : dir_(std::move(dir)), max_bytes_(max_bytes) {}

    const std::string& path() const noexcept { return dir_; }

    // Lists and hashes the folder. Errc::io_error when it cannot be read.
    Result<LibraryScan> scan();

    // The content of a file the last scan listed, as it is now (at most
    // max_bytes; a file grown past that, or no longer a regular file, is an
    // error naming it).
    Result<std::string> read(const api::LocalFile& file) const;

  private:
    struct Seen {
        std::uint64_t bytes = 0;
        std::int64_t mtime_ns = 0;
        std::uint64_t inode = 0;
        std::string sha256;
    };
    std::string dir_;
    std::uint64_t max_bytes_;
    std::map<std::string, Seen> seen_;  // by name: the digests of the last scan
};

}  // namespace lrsched::runtime
