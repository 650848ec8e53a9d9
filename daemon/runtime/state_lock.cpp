#include "runtime/state_lock.hpp"

#include "common/log_text.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace lrsched::runtime {
namespace {

// The pid the holder wrote, as text (at most a few digits; anything else
// is shown as "unknown").
std::string holder_pid(int fd) {
    char buf[24] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return "unknown";
    std::string pid(buf, static_cast<std::size_t>(n));
    while (!pid.empty() && pid.back() == '\n')
        pid.pop_back();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return "unknown";
    return pid;
}

}  // namespace

Result<StateLock> StateLock::acquire(const std::string& state_dir) {
    const std::string path = state_dir + "/lrsched.lock";
    // Non-blocking: a FIFO put in its place must not hang the start.
    const int fd =
        ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd < 0)
        return Error{Errc::io_error, log_value(path) + ": cannot open: " + std::strerror(errno)};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{Errc::io_error, log_value(path) + ": not a regular file"};
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        std::string message = "state_dir " + log_value(state_dir) + " ";
        if (err == EWOULDBLOCK)
            message += "is in use by another lrsched daemon (pid " + holder_pid(fd) +
                       "): one daemon per state_dir";
        else
            message += "cannot be locked: " + std::string(std::strerror(err));
        ::close(fd);
        return Error{Errc::invalid_input, std::move(message)};
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The pid is for messages only; the lock is what counts.
    }
    return StateLock(fd);
}

StateLock::StateLock(StateLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StateLock& StateLock::operator=(StateLock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

StateLock::~StateLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace lrsched::runtime
