// The inotify watch of jobs_dir (SPEC §2: changes seen "within a few
// seconds"), read through Asio on the daemon's one thread. It does not read
// job files: it tells the jobs loop (runtime/jobs_loop.cpp) when a rescan
// is due, debounced (jobs_watch_rules.hpp), and the loop scans. Besides
// jobs_dir it watches the folders inside it that hold the jobs' from_file
// target lists. When inotify cannot be used (no instance or watch left, no
// jobs_dir) it says so once and the loop falls back to its 2 s scan,
// trying the watch again at each scan; a queue overflow is one more rescan.
// Expected load: one descriptor, a watch per target-list folder, a few
// events per editor save.
#pragma once

#include "common/clock.hpp"
#include "net/coro.hpp"
#include "runtime/jobs_watch_rules.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace lrsched::runtime {

class JobsWatch {
  public:
    // `wake` is called when a rescan becomes due (the loop's event).
    JobsWatch(net::asio::io_context& io, std::string jobs_dir, std::function<void()> wake);
    JobsWatch(const JobsWatch&) = delete;
    JobsWatch& operator=(const JobsWatch&) = delete;

    // Watches jobs_dir unless it already does; the first failure of a run
    // of failures is logged, and so is each start. Cheap when watching.
    bool ensure();
    bool watching() const noexcept { return descriptor_.is_open(); }
    // Stops watching (the jobs loop ends); ensure() starts again.
    void close();
    // The folders (absolute, inside jobs_dir) that hold target lists now:
    // watched from now on, the others dropped. A folder newly watched may
    // have changed before its watch: a rescan is made due.
    void watch_folders(const std::set<std::string>& folders, Millis now);

    // When the debounced rescan is due, if one is.
    std::optional<Millis> rescan_at() const noexcept { return debounce_.due(); }
    bool rescan_due(Millis now) const noexcept { return debounce_.ready(now); }
    // A scan starts: every event so far is covered by it.
    void scanning() noexcept { debounce_.clear(); }

  private:
    void do_read();
    void on_read(unsigned generation, boost::system::error_code ec, std::size_t n);
    void handle(int wd, std::uint32_t mask, const char* name);
    void lost(const std::string& why);
    void event(Millis now);

    std::string dir_;
    std::function<void()> wake_;
    net::asio::posix::stream_descriptor descriptor_;
    int dir_wd_ = -1;
    std::map<int, std::string> folder_wds_;  // target-list folders by watch descriptor
    Debounce debounce_;
    bool failure_logged_ = false;
    // Bumped by close(): a read that ends after it belongs to the old
    // descriptor and is ignored.
    unsigned generation_ = 0;
    // inotify_event records, each 16 bytes and a name of up to NAME_MAX+1;
    // aligned for them (inotify(7)).
    alignas(int) std::array<char, std::size_t{64} * 1024> buffer_{};
};

}  // namespace lrsched::runtime
