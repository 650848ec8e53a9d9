// The systemd notify protocol (runtime/sd_notify.hpp) against a real
// AF_UNIX datagram socket standing in for systemd: a path and an abstract
// name, the helpers' messages, nothing sent without NOTIFY_SOCKET, and
// WATCHDOG_USEC/WATCHDOG_PID read as sd_watchdog_enabled(3) does.
#include "runtime/sd_notify.hpp"

#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <unistd.h>

namespace sd = lrsched::runtime::sd;
using lrsched::test::TempDir;

namespace {

// Sets an environment variable for one test and puts the old value back:
// the functions under test read the environment, as systemd gives it.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("sd_notify sends READY, STATUS, WATCHDOG and STOPPING to a path socket") {
    TempDir dir;
    const auto path = (dir.path() / "notify").string();
    auto receiver = lrsched::test::bind_datagram(path);
    ScopedEnv env("NOTIFY_SOCKET", path.c_str());

    CHECK(sd::ready());
    CHECK(lrsched::test::receive_datagram(receiver.get()) == "READY=1");
    CHECK(sd::status("3 jobs, 12 running,\n480 queued, 0 paused"));
    // A line break cannot smuggle in a second key.
    CHECK(lrsched::test::receive_datagram(receiver.get()) ==
          "STATUS=3 jobs, 12 running, 480 queued, 0 paused");
    CHECK(sd::watchdog());
    CHECK(lrsched::test::receive_datagram(receiver.get()) == "WATCHDOG=1");
    CHECK(sd::stopping());
    CHECK(lrsched::test::receive_datagram(receiver.get()) == "STOPPING=1");
}

TEST_CASE("sd_notify reaches an abstract socket written with a leading @") {
    const std::string name = "@lrsched-test-notify-" + std::to_string(::getpid());
    auto receiver = lrsched::test::bind_datagram(name);
    CHECK(sd::notify_to(name, "READY=1\nSTATUS=up"));
    CHECK(lrsched::test::receive_datagram(receiver.get()) == "READY=1\nSTATUS=up");
}

TEST_CASE("without NOTIFY_SOCKET, or with nobody listening, notify does nothing and says so") {
    {
        ScopedEnv env("NOTIFY_SOCKET", nullptr);
        CHECK_FALSE(sd::ready());
        CHECK_FALSE(sd::notify("READY=1"));
    }
    TempDir dir;
    CHECK_FALSE(sd::notify_to((dir.path() / "gone").string(), "READY=1"));
    CHECK_FALSE(sd::notify_to("", "READY=1"));
    CHECK_FALSE(sd::notify_to("relative/path", "READY=1"));
    CHECK_FALSE(sd::notify_to("/" + std::string(200, 'a'), "READY=1"));
}

TEST_CASE("the watchdog interval comes from WATCHDOG_USEC, for this process only") {
    using std::chrono::milliseconds;
    const pid_t self = 4242;
    CHECK(sd::watchdog_interval_from(nullptr, nullptr, self) == std::nullopt);
    CHECK(sd::watchdog_interval_from("30000000", nullptr, self) == milliseconds(30'000));
    CHECK(sd::watchdog_interval_from("30000000", "4242", self) == milliseconds(30'000));
    CHECK(sd::watchdog_interval_from("30000000", "4243", self) == std::nullopt);  // a parent's
    CHECK(sd::watchdog_interval_from("30000000", "42x", self) == std::nullopt);
    CHECK(sd::watchdog_interval_from("0", nullptr, self) == std::nullopt);
    CHECK(sd::watchdog_interval_from("", nullptr, self) == std::nullopt);
    CHECK(sd::watchdog_interval_from("-5", nullptr, self) == std::nullopt);
    CHECK(sd::watchdog_interval_from("10s", nullptr, self) == std::nullopt);
    CHECK(sd::watchdog_interval_from("500", nullptr, self) == milliseconds(1));  // never 0

    const std::string pid = std::to_string(::getpid());
    ScopedEnv usec("WATCHDOG_USEC", "2000000");
    ScopedEnv wpid("WATCHDOG_PID", pid.c_str());
    CHECK(sd::watchdog_interval() == milliseconds(2'000));
}
