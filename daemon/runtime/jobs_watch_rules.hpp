// The pure half of the jobs_dir watch (runtime/jobs_watch.hpp): which
// inotify events call for a rescan of the job files, and how a burst of
// them becomes one rescan. No Asio, no kernel: unit-tested with plain
// numbers. Expected load: a few events per editor save.
#pragma once

#include "common/clock.hpp"

#include <cstdint>
#include <optional>
#include <sys/inotify.h>

namespace lrsched::runtime {

// What is watched on jobs_dir and on the folders of the jobs' target lists:
// a file written and closed, renamed in or out, deleted, created (see
// rescan_for), its mode or links changed; and the folder itself deleted or
// moved, which ends its watch. Not IN_MODIFY: a file half written is
// read when it is closed, not at every write(2).
inline constexpr std::uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                            IN_DELETE | IN_CREATE | IN_ATTRIB | IN_DELETE_SELF |
                                            IN_MOVE_SELF | IN_ONLYDIR;

// What lstat(2) said of the entry an IN_CREATE names, read by the caller.
enum class Created { file_being_written, other };

// Whether one event calls for a rescan. Every name counts, not only *.yaml
// (a target list is a .txt; an unrelated file only costs a rescan, which
// parses nothing unchanged). One exception: a regular file just created
// with one link is still being written; its IN_CLOSE_WRITE follows, and a
// rescan now could read it half written and log an error the operator
// never made. A link, a folder or a symlink created is complete at once.
inline bool rescan_for(std::uint32_t mask, Created created = Created::other) {
    if ((mask & IN_CREATE) && !(mask & IN_ISDIR) && created == Created::file_being_written)
        return false;
    return (mask & (kWatchMask | IN_Q_OVERFLOW | IN_IGNORED | IN_UNMOUNT)) != 0;
}

// Events within `delay` of the first of a burst become one rescan, due at
// first + delay: a save's burst is read once, after it ends, and a stream of
// events (a tool rewriting files in a loop) delays a rescan by `delay` at
// most, never forever as a delay restarted at each event would.
class Debounce {
  public:
    explicit Debounce(Millis delay) : delay_(delay) {}
    // An event at `now`; true when it opens a burst (the loop must learn
    // the new due time), false when a rescan is already due.
    bool event(Millis now) {
        if (due_) return false;
        due_ = now + delay_;
        return true;
    }
    std::optional<Millis> due() const noexcept { return due_; }
    bool ready(Millis now) const noexcept { return due_ && now >= *due_; }
    // A scan starts: it covers every event so far.
    void clear() noexcept { due_.reset(); }

  private:
    Millis delay_;
    std::optional<Millis> due_;
};

}  // namespace lrsched::runtime
