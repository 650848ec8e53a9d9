// One daemon per state_dir (runtime/state_lock.hpp) on real files: a second
// holder is refused with the first's pid, the lock goes with its holder,
// and what is not a regular file in its place is refused without waiting.
#include "runtime/state_lock.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using lrsched::runtime::StateLock;
using lrsched::test::TempDir;

TEST_CASE("a state_dir's lock refuses a second holder, naming the first, until it is let go") {
    TempDir dir;
    const std::string state = dir.path().string();
    {
        auto first = StateLock::acquire(state);
        REQUIRE(first);
        // flock belongs to the open file: a second open conflicts even here.
        auto second = StateLock::acquire(state);
        REQUIRE_FALSE(second);
        CHECK(second.error().message.find("in use by another lrsched daemon (pid " +
                                          std::to_string(::getpid()) + ")") != std::string::npos);
    }
    CHECK(StateLock::acquire(state));
}

TEST_CASE("a FIFO or a symlink in the lock file's place is refused, not waited on or followed") {
    TempDir dir;
    const auto lock = dir.path() / "lrsched.lock";
    REQUIRE(::mkfifo(lock.c_str(), 0600) == 0);
    auto fifo = StateLock::acquire(dir.path().string());
    REQUIRE_FALSE(fifo);
    CHECK(fifo.error().message.find("not a regular file") != std::string::npos);

    std::filesystem::remove(lock);
    std::filesystem::create_symlink(dir.path() / "elsewhere", lock);
    CHECK_FALSE(StateLock::acquire(dir.path().string()));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "elsewhere"));
}
