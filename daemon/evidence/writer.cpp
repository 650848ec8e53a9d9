#include "evidence/writer.hpp"

#include "common/crash_point.hpp"
#include "evidence/naming.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace lrsched::evidence {
namespace {

constexpr const char* kPartSuffix = ".part";

Error sys_error(const std::string& what, int err) {
    const std::string why = err == ENOSPC || err == EDQUOT ? "disk full" : std::strerror(err);
    return Error{Errc::io_error, what + ": " + why};
}

Result<void> write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error(what, errno);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
}

// Opens `<run_dir>/<machine>` as a directory, creating it; a symbolic link
// planted there is refused (O_NOFOLLOW), so nothing is written elsewhere.
Result<int> open_machine_dir(const std::string& run_dir, const std::string& machine) {
    std::error_code ec;
    std::filesystem::create_directories(run_dir, ec);
    if (ec) return Error{Errc::io_error, run_dir + ": " + ec.message()};
    const int run_fd = ::open(run_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (run_fd < 0) return sys_error(run_dir, errno);
    if (::mkdirat(run_fd, machine.c_str(), 0750) != 0 && errno != EEXIST) {
        const int err = errno;
        ::close(run_fd);
        return sys_error(run_dir + "/" + machine, err);
    }
    const int fd =
        ::openat(run_fd, machine.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int err = errno;
    ::close(run_fd);
    if (fd < 0) return sys_error(run_dir + "/" + machine + " (not a plain folder)", err);
    return fd;
}

}  // namespace

Result<ArtifactWriter> ArtifactWriter::open(const std::string& run_dir,
                                            const std::string& machine,
                                            const std::string& name,
                                            std::uint64_t cap) {
    auto dir = open_machine_dir(run_dir, machine);
    if (!dir) return std::move(dir).error();
    ArtifactWriter w;
    w.dir_fd_ = *dir;
    w.machine_ = machine;
    w.name_ = name;
    w.cap_ = cap;
    // The name is already one safe component; the dot hides it from a
    // casual listing and the suffix marks it incomplete.
    w.temp_ = safe_component("." + name + kPartSuffix);
    ::unlinkat(w.dir_fd_, w.temp_.c_str(), 0);  // a leftover of an earlier try
    w.fd_ = ::openat(w.dir_fd_, w.temp_.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (w.fd_ < 0) return sys_error(run_dir + "/" + machine + "/" + w.temp_, errno);
    return w;
}

ArtifactWriter::ArtifactWriter(ArtifactWriter&& o) noexcept
    : dir_fd_(std::exchange(o.dir_fd_, -1)),
      fd_(std::exchange(o.fd_, -1)),
      machine_(std::move(o.machine_)),
      name_(std::move(o.name_)),
      temp_(std::move(o.temp_)),
      cap_(o.cap_),
      bytes_(o.bytes_),
      head_(std::move(o.head_)),
      hash_(std::move(o.hash_)) {}

ArtifactWriter::~ArtifactWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlinkat(dir_fd_, temp_.c_str(), 0);
    }
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

Result<void> ArtifactWriter::write(std::string_view chunk) {
    if (bytes_ + chunk.size() > cap_)
        return Error{Errc::limit_exceeded,
                     name_ + ": larger than the cap of " + std::to_string(cap_) + " bytes"};
    if (auto r = write_all(fd_, chunk, machine_ + "/" + temp_); !r) return r;
    hash_.update(chunk);
    if (head_.size() < 4) head_.append(chunk.substr(0, 4 - head_.size()));
    bytes_ += chunk.size();
    return ok();
}

Result<ArtifactWriter::Stored> ArtifactWriter::commit(std::string_view suffix) {
    const std::string where = machine_ + "/" + temp_;
    if (::fsync(fd_) != 0) return sys_error(where, errno);
    const auto taken = [&](const std::string& n) {
        struct stat st {};
        return ::fstatat(dir_fd_, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    };
    std::string wanted = name_;
    if (!suffix.empty())
        wanted =
            safe_component(name_.substr(0, kMaxComponent - suffix.size()) + std::string(suffix));
    const std::string final_name = unique_name(wanted, taken);
    crash_point("evidence.before_rename");
    if (::renameat(dir_fd_, temp_.c_str(), dir_fd_, final_name.c_str()) != 0)
        return sys_error(where, errno);
    ::close(fd_);
    fd_ = -1;  // committed: the destructor leaves the file alone
    if (::fsync(dir_fd_) != 0) return sys_error(machine_, errno);
    crash_point("evidence.after_rename");
    return Stored{machine_ + "/" + final_name, bytes_, hash_.hex_digest()};
}

// A last line without its newline was cut short by a crash (or a power cut)
// before its fsync returned, so it was never acknowledged: it is cut off
// before the next line goes on, or the two would fuse into one unreadable
// line. Only the tail is read, and only when it is torn.
Result<void> drop_torn_tail(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return sys_error(path, errno);
    off_t pos = st.st_size;
    char last = '\n';
    if (pos == 0 || (::pread(fd, &last, 1, pos - 1) == 1 && last == '\n')) return ok();
    std::array<char, 4096> buf{};
    off_t keep = 0;
    while (pos > 0 && keep == 0) {
        const auto n = std::min<off_t>(pos, static_cast<off_t>(buf.size()));
        pos -= n;
        if (::pread(fd, buf.data(), static_cast<std::size_t>(n), pos) != n)
            return sys_error(path, errno);
        for (off_t i = n; i > 0 && keep == 0; --i)
            if (buf[static_cast<std::size_t>(i - 1)] == '\n') keep = pos + i;
    }
    if (::ftruncate(fd, keep) != 0) return sys_error(path, errno);
    return ok();
}

// The last line of a file that ends with a newline (or is empty), without
// it. Lines we write are far below the cap; a longer one is someone else's.
constexpr off_t kMaxTailLine = off_t{1} << 20;
Result<std::string> last_line(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return sys_error(path, errno);
    const off_t end = st.st_size > 0 ? st.st_size - 1 : 0;  // before the final newline
    off_t start = end;
    std::array<char, 4096> buf{};
    bool found = false;
    while (start > 0 && !found && end - start < kMaxTailLine) {
        const auto n = std::min<off_t>(start, static_cast<off_t>(buf.size()));
        if (::pread(fd, buf.data(), static_cast<std::size_t>(n), start - n) != n)
            return sys_error(path, errno);
        for (off_t i = n; i > 0; --i) {
            if (buf[static_cast<std::size_t>(i - 1)] == '\n') {
                start = start - n + i;
                found = true;
                break;
            }
        }
        if (!found) start -= n;
    }
    if (end - start > kMaxTailLine)
        return Error{Errc::limit_exceeded, path + ": last line longer than 1 MiB"};
    std::string line(static_cast<std::size_t>(end - start), '\0');
    if (!line.empty() &&
        ::pread(fd, line.data(), line.size(), start) != static_cast<ssize_t>(line.size()))
        return sys_error(path, errno);
    return line;
}

// Whether the manifest's last line says the manifest is chained: a chain
// head or a line with `prev`. A manifest from before the chain stays as it
// began: a chain starting mid-way would read as a removed first line.
bool chained(const std::string& last) {
    const auto j = nlohmann::json::parse(last, nullptr, false);
    return !j.is_object() || j.contains("chain") || j.contains("prev");
}

Result<std::string> append_manifest(const std::string& run_dir, const ManifestEntry& entry) {
    const std::string path = run_dir + "/" + kManifestFile;
    const bool existed = std::filesystem::exists(path);
    const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) return sys_error(path, errno);
    ManifestEntry e = entry;
    e.prev.clear();
    std::string text;  // the head (new manifest) and the line, one write
    auto r = drop_torn_tail(fd, path);
    if (r) {
        auto last = last_line(fd, path);
        if (!last) {
            r = std::move(last).error();
        } else if (last->empty()) {
            auto seed = random_seed_hex();
            if (!seed) {
                r = std::move(seed).error();
            } else {
                text = chain_head_line(e.job, e.run, *seed);
                e.prev = sha256_hex(std::string_view(text).substr(0, text.size() - 1));
            }
        } else if (chained(*last)) {
            e.prev = sha256_hex(*last);
        }
    }
    const std::string line = to_line(e);
    text += line;
    if (r) r = write_all(fd, text, path);
    if (r && ::fsync(fd) != 0) r = sys_error(path, errno);
    ::close(fd);
    if (r && !existed) {
        const int dfd = ::open(run_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (::fsync(dfd) != 0) r = sys_error(run_dir, errno);
            ::close(dfd);
        }
    }
    if (!r) return std::move(r).error();
    return sha256_hex(std::string_view(line).substr(0, line.size() - 1));
}

std::optional<std::string> manifest_digest(const std::string& run_dir) {
    const std::string path = run_dir + "/" + kManifestFile;
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::optional<std::string> out;
    struct stat st {};
    char last = 0;
    // A torn tail (a crash mid-line) gives none: that line's file is fetched
    // again, and its new line, appended after the cut, sets the digest.
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        ::pread(fd, &last, 1, st.st_size - 1) == 1 && last == '\n')
        if (auto line = last_line(fd, path); line && !line->empty()) out = sha256_hex(*line);
    ::close(fd);
    return out;
}

std::vector<ManifestEntry> read_manifest(const std::string& run_dir) {
    std::vector<ManifestEntry> out;
    std::ifstream in(run_dir + "/" + kManifestFile);
    std::string line;
    while (std::getline(in, line))
        if (auto e = parse_line(line)) out.push_back(std::move(*e));
    return out;
}

std::size_t remove_unrecorded(const std::string& run_dir,
                              const std::string& machine,
                              const std::set<std::string>& listed) {
    std::size_t removed = 0;
    const std::string dir = run_dir + "/" + machine;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
            continue;
        if (listed.count(machine + "/" + name)) continue;
        if (::unlinkat(::dirfd(d), e->d_name, 0) == 0) ++removed;
    }
    ::closedir(d);
    return removed;
}

}  // namespace lrsched::evidence
