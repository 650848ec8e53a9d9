// The jobs_dir watch (runtime/jobs_watch.hpp) on a real kernel and a real
// io_context, without the daemon: the paths the e2e tests do not take (the
// watch of a target-list folder, jobs_dir moved away, watching again once
// the folder is back). Each wait runs the io_context until the watch wakes
// its loop, bounded; nothing sleeps.
#include "runtime/jobs_watch.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

using lrsched::runtime::JobsWatch;
namespace asio = lrsched::net::asio;
namespace fs = std::filesystem;

namespace {

struct Watched {
    explicit Watched(const fs::path& dir)
        : jobs(dir), watch(io, dir.string(), [this] {
              ++wakes;
              io.stop();
          }) {}

    // Runs the io_context until the watch wakes the loop (true) or a
    // generous bound passes (false). The loop's part: a scan covers
    // the events so far, so the next one wakes it again.
    bool woken() {
        const int before = wakes;
        io.restart();
        io.run_for(std::chrono::seconds(20));
        watch.scanning();
        return wakes > before;
    }

    fs::path jobs;
    asio::io_context io;
    int wakes = 0;
    JobsWatch watch;
};

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("jobs watch: a job written, a target list in a watched folder, jobs_dir moved away") {
    lrsched::test::TempDir tmp;
    const fs::path jobs = tmp.path() / "jobs";
    fs::create_directories(jobs / "targets");
    Watched w(jobs);
    REQUIRE(w.watch.ensure());
    CHECK(w.watch.ensure());  // already watching: nothing new

    write_file(jobs / "a.yaml", "targets: {}\n");
    CHECK(w.woken());
    CHECK_FALSE(w.watch.rescan_at().has_value());

    // A folder newly watched may have changed before: a rescan is due at once.
    const int before = w.wakes;
    w.watch.watch_folders({(jobs / "targets").string()}, lrsched::unix_now());
    CHECK(w.watch.rescan_at().has_value());
    CHECK(w.wakes == before + 1);
    w.watch.scanning();
    write_file(jobs / "targets" / "list.txt", "dc01\n");
    CHECK(w.woken());
    fs::rename(jobs / "targets" / "list.txt", jobs / "targets" / "old.txt");
    CHECK(w.woken());

    // Moved away, jobs_dir is no longer what the configuration names.
    fs::rename(jobs, tmp.path() / "moved");
    CHECK(w.woken());
    CHECK_FALSE(w.watch.watching());
    CHECK_FALSE(w.watch.ensure());
    fs::create_directories(jobs);
    REQUIRE(w.watch.ensure());
    write_file(jobs / "b.yaml", "targets: {}\n");
    CHECK(w.woken());
    w.watch.close();
    CHECK_FALSE(w.watch.watching());
}

TEST_CASE("jobs watch: jobs_dir deleted ends the watch and wakes the loop") {
    lrsched::test::TempDir tmp;
    const fs::path jobs = tmp.path() / "jobs";
    fs::create_directories(jobs);
    Watched w(jobs);
    REQUIRE(w.watch.ensure());
    fs::remove_all(jobs);
    CHECK(w.woken());
    CHECK_FALSE(w.watch.watching());
}

TEST_CASE("jobs watch: no jobs_dir, no watch") {
    lrsched::test::TempDir tmp;
    Watched w(tmp.path() / "missing");
    CHECK_FALSE(w.watch.ensure());
    CHECK_FALSE(w.watch.watching());
    write_file(tmp.path() / "file", "x");  // a regular file is no folder to watch
    Watched file(tmp.path() / "file");
    CHECK_FALSE(file.watch.ensure());
}
