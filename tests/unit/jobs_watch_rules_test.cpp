// The pure rules of the jobs_dir watch (runtime/jobs_watch_rules.hpp):
// which inotify events call for a rescan, and a burst of events becoming
// one rescan due a fixed delay after its first event.
#include "runtime/jobs_watch_rules.hpp"

#include "config/policy.hpp"

#include <doctest/doctest.h>

using lrsched::runtime::Created;
using lrsched::runtime::Debounce;
using lrsched::runtime::rescan_for;

TEST_CASE("jobs watch: a save's events call for a rescan, a file still being written does not") {
    CHECK(rescan_for(IN_CLOSE_WRITE));
    CHECK(rescan_for(IN_MOVED_TO));
    CHECK(rescan_for(IN_MOVED_FROM));
    CHECK(rescan_for(IN_DELETE));
    CHECK(rescan_for(IN_ATTRIB));
    CHECK(rescan_for(IN_Q_OVERFLOW));  // events lost: only a rescan knows
    CHECK(rescan_for(IN_DELETE_SELF));
    CHECK(rescan_for(IN_CREATE | IN_ISDIR));
    CHECK(rescan_for(IN_CREATE, Created::other));  // a hard link or a symlink: complete
    // Its IN_CLOSE_WRITE follows; read now, it could be half written.
    CHECK_FALSE(rescan_for(IN_CREATE, Created::file_being_written));
    CHECK_FALSE(rescan_for(IN_MODIFY));
    CHECK_FALSE(rescan_for(IN_ACCESS | IN_OPEN | IN_CLOSE_NOWRITE));  // the scan's own reads
}

TEST_CASE("jobs watch: events within the debounce delay of the first become one rescan") {
    using lrsched::policy::kJobsDebounce;
    static_assert(kJobsDebounce >= 100 && kJobsDebounce <= 1'000,
                  "a save's burst is read once, and still within a second");
    Debounce d(kJobsDebounce);
    CHECK_FALSE(d.due().has_value());
    CHECK(d.event(10'000));  // opens a burst: the loop must learn the due time
    CHECK(d.due() == 10'000 + kJobsDebounce);
    CHECK_FALSE(d.event(10'001));  // vim: 4913, the backup, the new file, ...
    CHECK_FALSE(d.event(10'000 + kJobsDebounce - 1));
    CHECK_FALSE(d.ready(10'000 + kJobsDebounce - 1));
    // Events that keep coming never push the rescan later.
    CHECK_FALSE(d.event(10'000 + kJobsDebounce));
    CHECK(d.due() == 10'000 + kJobsDebounce);
    CHECK(d.ready(10'000 + kJobsDebounce));
    d.clear();  // the scan covers them all
    CHECK_FALSE(d.ready(20'000));
    CHECK(d.event(20'000));  // an event after the scan starts the next burst
    CHECK(d.due() == 20'000 + kJobsDebounce);
}
