#include "runtime/jobs_watch.hpp"

#include "common/log_text.hpp"
#include "config/policy.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace lrsched::runtime {
namespace {

namespace asio = net::asio;

std::string errno_text(const char* call) {
    const int e = errno;
    std::string text = std::string(call) + ": " + std::strerror(e);
    // The two limits an operator can raise, named so the log says which.
    if (e == ENOSPC && std::string_view(call) == "inotify_add_watch")
        text += " (the sysctl fs.inotify.max_user_watches is reached)";
    if (e == EMFILE && std::string_view(call) == "inotify_init1")
        text += " (the sysctl fs.inotify.max_user_instances is reached)";
    return text;
}

// A regular file with one link, just created, is being written: its
// IN_CLOSE_WRITE follows (jobs_watch_rules.hpp). Anything else, including
// an entry gone again already, is complete.
Created created_entry(const std::string& folder, const char* name) {
    struct stat st {};
    const std::string path = folder + "/" + name;
    if (::lstat(path.c_str(), &st) != 0) return Created::other;
    return S_ISREG(st.st_mode) && st.st_nlink == 1 ? Created::file_being_written : Created::other;
}

}  // namespace

JobsWatch::JobsWatch(asio::io_context& io, std::string jobs_dir, std::function<void()> wake)
    : dir_(std::move(jobs_dir)),
      wake_(std::move(wake)),
      descriptor_(io),
      debounce_(policy::kJobsDebounce) {}

bool JobsWatch::ensure() {
    if (watching()) return true;
    const auto fail = [this](const std::string& why) {
        if (!failure_logged_)
            spdlog::warn("cannot watch jobs_dir {}: {}; reading it every {} ms instead",
                         log_value(dir_), log_error(why), policy::kScanEvery);
        failure_logged_ = true;
        return false;
    };
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return fail(errno_text("inotify_init1"));
    const int wd = ::inotify_add_watch(fd, dir_.c_str(), kWatchMask);
    if (wd < 0) {
        const std::string why = errno_text("inotify_add_watch");
        ::close(fd);
        return fail(why);
    }
    boost::system::error_code ec;
    descriptor_.assign(fd, ec);
    if (ec) {
        ::close(fd);
        return fail("registering the descriptor: " + ec.message());
    }
    dir_wd_ = wd;
    folder_wds_.clear();
    failure_logged_ = false;
    spdlog::info("watching jobs_dir with inotify: {}", log_value(dir_));
    do_read();
    return true;
}

void JobsWatch::close() {
    ++generation_;
    boost::system::error_code ec;
    descriptor_.close(ec);  // removes every watch with the descriptor
    dir_wd_ = -1;
    folder_wds_.clear();
}

void JobsWatch::watch_folders(const std::set<std::string>& folders, Millis now) {
    if (!watching()) return;
    const int fd = descriptor_.native_handle();
    for (auto it = folder_wds_.begin(); it != folder_wds_.end();) {
        if (folders.count(it->second) != 0) {
            ++it;
            continue;
        }
        // Its IN_IGNORED comes later, for a descriptor no longer known.
        ::inotify_rm_watch(fd, it->first);
        it = folder_wds_.erase(it);
    }
    bool added = false;
    for (const auto& folder : folders) {
        if (folder == dir_) continue;
        bool known = false;
        for (const auto& entry : folder_wds_)
            known = known || entry.second == folder;
        if (known) continue;
        // A folder not there (yet) is not watched: its creation in jobs_dir
        // is an event, and the scan it causes comes back here.
        const int wd = ::inotify_add_watch(fd, folder.c_str(), kWatchMask);
        // The descriptor of a folder already watched (jobs_dir, or another
        // path to a folder in the map) adds nothing: no rescan, or two
        // paths to one folder would ask for one at every scan.
        if (wd < 0 || wd == dir_wd_ || folder_wds_.count(wd) != 0) continue;
        folder_wds_[wd] = folder;
        added = true;
    }
    if (added) event(now);
}

void JobsWatch::do_read() {
    descriptor_.async_read_some(
        asio::buffer(buffer_),
        [this, generation = generation_](boost::system::error_code ec, std::size_t n) {
            on_read(generation, ec, n);
        });
}

void JobsWatch::on_read(unsigned generation, boost::system::error_code ec, std::size_t n) {
    if (generation != generation_) return;  // closed meanwhile; maybe watching anew
    if (ec) {
        lost("reading its events: " + ec.message());
        return;
    }
    std::size_t at = 0;
    while (at + sizeof(inotify_event) <= n) {
        inotify_event header{};
        std::memcpy(&header, buffer_.data() + at, sizeof header);
        const char* name = header.len > 0 ? buffer_.data() + at + sizeof header : "";
        handle(header.wd, header.mask, name);
        if (generation != generation_) return;  // the watch ended on this event
        at += sizeof header + header.len;
    }
    do_read();
}

void JobsWatch::handle(int wd, std::uint32_t mask, const char* name) {
    const Millis now = unix_now();
    if (mask & IN_Q_OVERFLOW) {  // events were lost: only a full rescan knows
        event(now);
        return;
    }
    if (wd == dir_wd_) {
        if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
            // A watch follows the inode: jobs_dir moved away is no longer
            // the configured path, and a jobs_dir deleted has nothing left.
            lost(mask & IN_MOVE_SELF ? "it was moved" : "it was deleted or unmounted");
            return;
        }
        const Created created = mask & IN_CREATE ? created_entry(dir_, name) : Created::other;
        if (rescan_for(mask, created)) event(now);
        return;
    }
    const auto folder = folder_wds_.find(wd);
    if (folder == folder_wds_.end()) return;  // a watch removed by watch_folders
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
        if (!(mask & IN_IGNORED)) ::inotify_rm_watch(descriptor_.native_handle(), wd);
        folder_wds_.erase(folder);
        event(now);
        return;
    }
    const Created created = mask & IN_CREATE ? created_entry(folder->second, name) : Created::other;
    if (rescan_for(mask, created)) event(now);
}

void JobsWatch::lost(const std::string& why) {
    spdlog::warn(
        "jobs_dir {} no longer watched: {}; reading it every {} ms until it can be "
        "watched again",
        log_value(dir_), log_error(why), policy::kScanEvery);
    failure_logged_ = true;  // the failures to watch it again say nothing new
    close();
    event(unix_now());
}

void JobsWatch::event(Millis now) {
    if (debounce_.event(now)) wake_();
}

}  // namespace lrsched::runtime
