// One daemon per state_dir (SPEC §6: "a second daemon on the same state_dir
// refuses to start"): an exclusive, non-blocking flock(2) on
// <state_dir>/lrsched.lock, held for the life of the process. The kernel
// drops it when the process ends, even by SIGKILL, so a crash leaves
// nothing stale for the next start to clean up. The file holds the holder's
// pid, for the refusal's message only. Load: once per start.
#pragma once

#include "common/result.hpp"

#include <string>

namespace lrsched::runtime {

class StateLock {
  public:
    // Errc::invalid_input naming the other daemon's pid when another process
    // holds the lock; Errc::io_error when the file cannot be opened or is
    // not a regular file (a symlink or a FIFO in its place is refused).
    static Result<StateLock> acquire(const std::string& state_dir);

    StateLock(StateLock&& other) noexcept;
    StateLock& operator=(StateLock&& other) noexcept;
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;
    ~StateLock();

  private:
    explicit StateLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace lrsched::runtime
