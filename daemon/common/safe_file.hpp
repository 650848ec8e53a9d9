// Opening a path someone else may have put there (a secret, a job file, the
// configuration, a target list, the database, an evidence manifest) without
// letting it stop us: a FIFO would block open() and read() forever, a device
// like /dev/zero never ends, a directory reads as empty, a symbolic link can
// stand for a file outside the place we meant. So: open non-blocking, fstat
// the descriptor we hold (no window between check and use), accept only a
// regular file, and read at most a cap. Expected load: a handful of files at
// start-up and reload, one per manifest or evidence file that `verify` reads.
//
// Error messages say what is wrong with the file, without its name: callers
// put the name in front in their own form (a diagnostic's location, "secret
// file X: ..."), so it is never printed twice.
#pragma once

#include "common/result.hpp"

#include <cstddef>
#include <string>
#include <sys/stat.h>

namespace lrsched {

enum class Links {
    follow,  // operators symlink /etc files: the link's target must be a regular file
    refuse,  // the last component must not be a link (secrets, the manifest, evidence)
};

// An open descriptor on a regular file, closed on destruction.
class RegularFile {
  public:
    // Opens `path` O_RDONLY|O_NONBLOCK|O_CLOEXEC (plus O_NOFOLLOW under
    // Links::refuse) and refuses anything but a regular file: "is a FIFO, not
    // a regular file", "is a directory, ...", "is a symbolic link, which is
    // not followed here", "cannot open: <errno text>" (code not_found when
    // the file does not exist, io_error otherwise).
    static Result<RegularFile> open(const std::string& path, Links links);

    RegularFile(RegularFile&& other) noexcept;
    RegularFile& operator=(RegularFile&& other) noexcept;
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;
    ~RegularFile();

    int fd() const noexcept { return fd_; }
    const struct stat& status() const noexcept { return st_; }

    // Reads from the current offset to the end, holding at most `max_bytes`:
    // a file larger than that (by its size, or because it grew while read)
    // is refused with limit_exceeded ("is N bytes, over the size cap of M
    // bytes") and the memory used stays near the cap.
    Result<std::string> read_all(std::size_t max_bytes);

  private:
    RegularFile(int fd, const struct stat& st) noexcept : fd_(fd), st_(st) {}
    int fd_ = -1;
    struct stat st_ {};
};

// RegularFile::open then read_all.
Result<std::string> read_regular_file(const std::string& path, std::size_t max_bytes, Links links);

// For a path another library opens by name (SQLite): succeeds when nothing
// is there (the caller keeps its own answer for a missing file) or when the
// path, links followed, is a regular file; else the same refusal as
// RegularFile::open. Never opens the path, so never blocks on it.
Result<void> check_regular_or_missing(const std::string& path);

// "a FIFO", "a directory", "a character device", ...: what a st_mode is.
const char* file_kind(mode_t mode) noexcept;

}  // namespace lrsched
