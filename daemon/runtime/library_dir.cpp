#include "runtime/library_dir.hpp"

#include "common/safe_file.hpp"
#include "common/sha256.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace lrsched::runtime {
namespace {

struct DirCloser {
    void operator()(DIR* d) const noexcept { ::closedir(d); }
};

Error io_error(const std::string& path, const char* what) {
    return Error{Errc::io_error, path + ": " + what + ": " + std::strerror(errno)};
}

// Reads at most `cap` bytes of `fd`, handing each piece to `f`; an error
// when the file holds more.
template <typename F>
Result<void> read_capped(int fd, const std::string& path, std::uint64_t cap, F&& f) {
    char buf[64 * 1024];
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error(path, "read");
        }
        if (n == 0) return ok();
        total += static_cast<std::uint64_t>(n);
        if (total > cap)
            return Error{Errc::limit_exceeded,
                         path + ": grew past " + std::to_string(cap) + " bytes while read"};
        f(std::string_view(buf, static_cast<std::size_t>(n)));
    }
}

}  // namespace

Result<LibraryScan> LibraryDir::scan() {
    const std::unique_ptr<DIR, DirCloser> dir(::opendir(dir_.c_str()));
    if (!dir) return io_error(dir_, "cannot list the library folder");
    LibraryScan out;
    std::map<std::string, Seen> seen;
    for (;;) {
        errno = 0;
        const dirent* e = ::readdir(dir.get());
        if (e == nullptr) {
            if (errno != 0) return io_error(dir_, "cannot list the library folder");
            break;
        }
        const std::string name = e->d_name;
        if (name.empty() || name.front() == '.') continue;  // ., .., dot-files
        struct stat st {};
        if (::fstatat(::dirfd(dir.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            out.skipped.push_back({name, std::string("cannot stat: ") + std::strerror(errno)});
            continue;
        }
        if (S_ISDIR(st.st_mode)) continue;
        if (S_ISLNK(st.st_mode)) {
            out.skipped.push_back({name, "a symbolic link (links are not followed)"});
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            out.skipped.push_back({name, "not a regular file"});
            continue;
        }
        if (!api::is_library_name(name)) {
            out.skipped.push_back(
                {name, "the library takes only letters, digits, '-', '_' and '.' in a name"});
            continue;
        }
        const auto bytes = static_cast<std::uint64_t>(st.st_size);
        if (bytes > max_bytes_) {
            out.skipped.push_back({name, std::to_string(bytes) + " bytes, over the " +
                                             std::to_string(max_bytes_) +
                                             " bytes the API takes in an upload"});
            continue;
        }
        const std::string path = dir_ + "/" + name;
        Seen now{bytes,
                 std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                 static_cast<std::uint64_t>(st.st_ino),
                 {}};
        const auto cached = seen_.find(name);
        if (cached != seen_.end() && cached->second.bytes == now.bytes &&
            cached->second.mtime_ns == now.mtime_ns && cached->second.inode == now.inode) {
            now.sha256 = cached->second.sha256;
        } else {
            // Non-blocking and without following a link: the entry may have
            // become a FIFO or a link since it was looked at.
            auto file = RegularFile::open(path, Links::refuse);
            if (!file) {
                out.skipped.push_back({name, file.error().message});
                continue;
            }
            Sha256 h;
            auto r = read_capped(file->fd(), path, max_bytes_,
                                 [&h](std::string_view piece) { h.update(piece); });
            if (!r) {
                out.skipped.push_back({name, r.error().message});
                continue;
            }
            now.sha256 = h.hex_digest();
        }
        out.files.push_back({name, path, bytes, now.sha256});
        seen.emplace(name, std::move(now));
    }
    seen_ = std::move(seen);
    std::sort(out.files.begin(), out.files.end(),
              [](const api::LocalFile& a, const api::LocalFile& b) { return a.name < b.name; });
    return out;
}

Result<std::string> LibraryDir::read(const api::LocalFile& file) const {
    auto content = read_regular_file(file.path, max_bytes_, Links::refuse);
    if (content) return content;
    if (content.error().code == make_error_code(Errc::limit_exceeded))
        return Error{Errc::limit_exceeded, file.path + ": over the " + std::to_string(max_bytes_) +
                                               " bytes the API takes in an upload"};
    return Error{content.error().code, file.path + ": " + content.error().message};
}

}  // namespace lrsched::runtime
