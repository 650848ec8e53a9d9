// See safe_file.hpp: regular files only, opened without blocking, read with a cap.
#include "common/safe_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

namespace lrsched {
namespace {

constexpr std::size_t kReadChunk = std::size_t{64} * 1024;

Error not_regular(mode_t mode) {
    return Error{Errc::invalid_input,
                 std::string("is ") + file_kind(mode) + ", not a regular file"};
}

Error open_failed(int err) {
    return Error{err == ENOENT ? Errc::not_found : Errc::io_error,
                 std::string("cannot open: ") + std::strerror(err)};
}

}  // namespace

const char* file_kind(mode_t mode) noexcept {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a file";
}

Result<RegularFile> RegularFile::open(const std::string& path, Links links) {
    // O_NONBLOCK: open() of a FIFO with no writer returns at once instead of
    // waiting for one; the fstat below then refuses it. O_NOCTTY: a terminal
    // device must not become our controlling terminal on the way to refusal.
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    if (links == Links::refuse) flags |= O_NOFOLLOW;
    const int fd = ::open(path.c_str(), flags);
    if (fd < 0) {
        const int err = errno;
        if (err == ELOOP && links == Links::refuse) {
            struct stat lst {};
            if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
                return Error{Errc::permission_denied,
                             "is a symbolic link, which is not followed here"};
        }
        // A socket cannot be opened at all (ENXIO); say what it is.
        struct stat st {};
        if (err == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
            return not_regular(st.st_mode);
        return open_failed(err);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return Error{Errc::io_error, std::string("cannot stat: ") + std::strerror(err)};
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return not_regular(st.st_mode);
    }
    return RegularFile(fd, st);
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), st_(other.st_) {}

RegularFile& RegularFile::operator=(RegularFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        st_ = other.st_;
    }
    return *this;
}

RegularFile::~RegularFile() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::string> RegularFile::read_all(std::size_t max_bytes) {
    const auto over = [max_bytes](const std::string& size) {
        return Error{Errc::limit_exceeded, "is " + size + " bytes, over the size cap of " +
                                               std::to_string(max_bytes) + " bytes"};
    };
    if (st_.st_size > 0 && static_cast<std::uint64_t>(st_.st_size) > max_bytes)
        return over(std::to_string(st_.st_size));
    std::string out;
    // The size is only a hint (the file may grow); the cap bounds the memory.
    out.reserve(std::min<std::size_t>(static_cast<std::size_t>(std::max<off_t>(st_.st_size, 0)),
                                      max_bytes) +
                1);
    for (;;) {
        const std::size_t room = max_bytes + 1 - out.size();  // one byte more detects growth
        const std::size_t want = std::min(room, kReadChunk);
        const std::size_t at = out.size();
        out.resize(at + want);
        const ssize_t n = ::read(fd_, out.data() + at, want);
        if (n < 0) {
            const int err = errno;
            out.resize(at);
            if (err == EINTR) continue;
            return Error{Errc::io_error, std::string("cannot read: ") + std::strerror(err)};
        }
        out.resize(at + static_cast<std::size_t>(n));
        if (n == 0) break;
        if (out.size() > max_bytes) return over("more than " + std::to_string(max_bytes));
    }
    return out;
}

Result<std::string> read_regular_file(const std::string& path, std::size_t max_bytes, Links links) {
    auto file = RegularFile::open(path, links);
    if (!file) return std::move(file).error();
    return file->read_all(max_bytes);
}

Result<void> check_regular_or_missing(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return ok();
        return Error{Errc::io_error, std::string("cannot stat: ") + std::strerror(errno)};
    }
    if (!S_ISREG(st.st_mode)) return not_regular(st.st_mode);
    return ok();
}

}  // namespace lrsched
