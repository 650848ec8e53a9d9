// The daemon under systemd's notify protocol (SPEC §7, issue 13): with
// NOTIFY_SOCKET set it says READY=1 once its store is open and its loops
// run, refreshes a STATUS= line ("N jobs, N running, N queued, N paused"),
// pings WATCHDOG=1 from its dispatch loop when WATCHDOG_USEC asks for it,
// and says STOPPING=1 when a stop begins. The test plays systemd: a
// datagram socket in the test's folder, read without blocking.
#include "support/daemon_fixture.hpp"
#include "support/raw_socket.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <vector>

using lrsched::test::DaemonE2e;
using lrsched::test::SweepSpec;

namespace {

// systemd's end of the protocol: every datagram received so far.
class NotifySocket {
  public:
    explicit NotifySocket(const std::string& path)
        : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path.size() < sizeof(addr.sun_path));
        std::memcpy(addr.sun_path, path.data(), path.size());
        REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    }
    const std::vector<std::string>& messages() {
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
            if (n <= 0) break;
            got_.emplace_back(buf, static_cast<std::size_t>(n));
        }
        return got_;
    }
    int count(const std::string& line) {
        const auto& m = messages();
        return static_cast<int>(std::count(m.begin(), m.end(), line));
    }

  private:
    lrsched::test::RawFd fd_;
    std::vector<std::string> got_;
};

}  // namespace

TEST_CASE("sd_notify e2e: READY, STATUS, WATCHDOG from the dispatch loop, STOPPING") {
    SweepSpec spec;
    spec.machines = 10;
    DaemonE2e e2e(spec);
    const std::string path = (e2e.dir() / "notify.sock").string();
    NotifySocket systemd(path);
    // 1 s: a ping every 0.5 s at the latest, idle or not.
    e2e.start_daemon({"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=1000000"});
    e2e.wait_until("READY=1", [&] { return systemd.count("READY=1") == 1; });
    e2e.wait_until("a STATUS line", [&] {
        const std::regex status("STATUS=1 jobs, [0-9]+ running, [0-9]+ queued, 0 paused");
        for (const auto& m : systemd.messages())
            if (std::regex_match(m, status)) return true;
        return false;
    });
    e2e.wait_for_sweep_end();
    // Pings go on while the daemon idles after the sweep: the dispatch
    // loop's wait is capped, not left to the next event.
    const int before = systemd.count("WATCHDOG=1");
    e2e.wait_until("two more pings while idle",
                   [&] { return systemd.count("WATCHDOG=1") >= before + 2; });
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    CHECK(systemd.count("STOPPING=1") == 1);
    CHECK(systemd.count("READY=1") == 1);
    // READY came before any STOPPING, and nothing else was sent.
    for (const auto& m : systemd.messages())
        CHECK_MESSAGE((m == "READY=1" || m == "WATCHDOG=1" || m == "STOPPING=1" ||
                       m.rfind("STATUS=", 0) == 0),
                      m);
}
