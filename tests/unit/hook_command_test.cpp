// run_hook_command with real processes on an io_context: the input arrives
// whole, the exit status is reported, a command that ignores its input, floods
// its output or never ends cannot hang the daemon, and the command sees none of
// the daemon's environment or descriptors.
#include "runtime/hook_command.hpp"

#include "net/coro.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/syscall.h>
#include <unistd.h>

using lrsched::runtime::HookEnv;
using lrsched::runtime::HookOutcome;
using lrsched::runtime::run_hook_command;
using lrsched::test::TempDir;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Generous: only the timeout test is meant to reach its timeout.
constexpr auto kNoTimeout = std::chrono::milliseconds(120'000);

HookOutcome run(std::vector<std::string> argv,
                std::string input,
                std::chrono::milliseconds timeout = kNoTimeout,
                HookEnv env = {}) {
    asio::io_context io;
    std::optional<HookOutcome> out;
    auto done = [&out](const std::exception_ptr& e, HookOutcome o) {
        if (e) std::rethrow_exception(e);
        out = std::move(o);
    };
    asio::co_spawn(io, run_hook_command(std::move(argv), std::move(input), timeout, std::move(env)),
                   done);
    io.run();
    REQUIRE(out.has_value());
    return *out;
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The lines of an outcome's output (newlines come escaped as \n).
std::vector<std::string> lines_of(const std::string& escaped) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < escaped.size()) {
        const auto nl = escaped.find("\\n", pos);
        out.push_back(escaped.substr(pos, nl - pos));
        if (nl == std::string::npos) break;
        pos = nl + 2;
    }
    return out;
}

}  // namespace

TEST_CASE("hook command: standard input arrives intact, larger than a pipe's buffer") {
    TempDir dir;
    const auto copy = dir.path() / "copy.bin";
    std::string input;
    for (int i = 0; i < 300'000; ++i)
        input += static_cast<char>(i * 7 % 256);  // NULs and every byte value
    const auto out = run({"/bin/sh", "-c", "cat > \"$1\"", "sh", copy.string()}, input);
    CHECK(out.kind == "command");
    CHECK(out.ok);
    CHECK(out.detail == "exit 0");
    CHECK(out.attempts == 1);
    CHECK(read_file(copy) == input);
}

TEST_CASE("hook command: a non-zero exit is reported with what the command wrote") {
    const auto out = run({"/bin/sh", "-c", "echo to-out; echo oops >&2; exit 3"}, "{}");
    CHECK_FALSE(out.ok);
    CHECK(out.detail == "exit 3");
    CHECK(out.output == "to-out\\noops\\n");
}

TEST_CASE("hook command: a command that never reads its input ends normally") {
    // 8 MiB: far past the pipe's buffer, so the write meets EPIPE, which must
    // neither kill the process (SIGPIPE) nor wait for a reader.
    const auto out = run({"/bin/true"}, std::string(8u << 20, 'x'));
    CHECK(out.ok);
    CHECK(out.detail == "exit 0");
}

TEST_CASE("hook command: 50 MB of output is read and dropped past 4 KiB") {
    const auto out = run({"/bin/sh", "-c", "yes | head -c 52428800"}, "");
    CHECK(out.ok);
    CHECK(out.detail == "exit 0");
    // 4096 bytes of "y\n", each newline escaped, then the count dropped.
    CHECK(out.output.rfind("y\\ny\\n", 0) == 0);
    CHECK(out.output.find("y\\n [52424704 more bytes dropped]") != std::string::npos);
    CHECK(out.output.size() < 3 * lrsched::runtime::kHookOutputMax);
}

TEST_CASE("hook command: past the timeout its whole process group is killed") {
    TempDir dir;
    const auto pid_file = dir.path() / "child.pid";
    // The script starts a child in its group, tells us its pid, and waits.
    const auto out =
        run({"/bin/sh", "-c", "sleep 1000 & echo $! > \"$1\"; wait", "sh", pid_file.string()}, "",
            500ms);
    CHECK_FALSE(out.ok);
    CHECK(out.detail == "killed by signal 9 after the 500ms timeout");
    const int child = std::atoi(read_file(pid_file).c_str());
    REQUIRE(child > 0);
    // The child was sent SIGKILL with its group; its pidfd becomes readable
    // when it has died (ESRCH: already dead and reaped by its new parent).
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    if (fd < 0) {
        CHECK(errno == ESRCH);
    } else {
        pollfd p{fd, POLLIN, 0};
        CHECK(::poll(&p, 1, 60'000) == 1);  // an upper bound, not a timing check
        ::close(fd);
    }
}

TEST_CASE("hook command: it leads its own process group") {
    const auto out = run({"/bin/sh", "-c", "echo $$; cut -d' ' -f5 /proc/self/stat"}, "");
    REQUIRE(out.ok);
    const auto lines = lines_of(out.output);
    REQUIRE(lines.size() >= 2);
    CHECK(lines[0] == lines[1]);
    CHECK(lines[0] != std::to_string(::getpgrp()));
}

TEST_CASE("hook command: a program that cannot run is reported, not thrown") {
    const auto missing = run({"/nonexistent/notify-soc", "--job", "x"}, "{}");
    CHECK_FALSE(missing.ok);
    CHECK(missing.detail == "cannot run: No such file or directory");
    const auto relative = run({"sh", "-c", "true"}, "{}");
    CHECK_FALSE(relative.ok);
    CHECK(relative.detail.rfind("cannot run: ", 0) == 0);
    TempDir dir;
    const auto text = dir.write("notes.txt", "not a program\n");  // mode 0644: no x bit
    std::filesystem::permissions(text, std::filesystem::perms(0644));
    const auto not_executable = run({text.string()}, "{}");
    CHECK_FALSE(not_executable.ok);
    CHECK(not_executable.detail == "cannot run: Permission denied");
}

TEST_CASE("hook command: the environment is a fixed one, never the daemon's") {
    ::setenv("LRSCHED_CANARY", "from-the-daemon", 1);
    const auto out = run({"/usr/bin/env"}, "", kNoTimeout, HookEnv{"nightly", "42"});
    ::unsetenv("LRSCHED_CANARY");
    REQUIRE(out.ok);
    auto lines = lines_of(out.output);
    std::sort(lines.begin(), lines.end());
    CHECK(lines == std::vector<std::string>{"LANG=C.UTF-8", "LRSCHED_JOB=nightly", "LRSCHED_RUN=42",
                                            "PATH=/usr/bin:/bin"});
}

TEST_CASE("hook command: no descriptor of the daemon leaks into the command") {
    // One without O_CLOEXEC, as a careless library might open it.
    const int leaky = ::open("/dev/null", O_RDONLY);
    REQUIRE(leaky >= 0);
    const auto out = run({"/bin/ls", "/proc/self/fd"}, "");
    ::close(leaky);
    REQUIRE(out.ok);
    const auto lines = lines_of(out.output);
    // 0, 1, 2, and the directory ls itself opened to list them.
    const std::set<std::string> allowed = {"0", "1", "2", "3"};
    for (const auto& l : lines)
        CHECK(allowed.count(l) == 1);
    CHECK(std::count(lines.begin(), lines.end(), std::to_string(leaky)) == (leaky == 3 ? 1 : 0));
}
