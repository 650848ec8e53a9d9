// run_hook_command: posix_spawn (no shell, no PATH search), three pipes'
// worth of asynchronous I/O and a pidfd, all on the caller's io_context.
// Why these choices:
// - posix_spawn, not fork: the daemon's address space is large and ASan's
//   larger; glibc's posix_spawn uses CLONE_VFORK and reports an exec failure
//   (ENOENT, EACCES) as its return value, so "cannot run" is synchronous.
// - A pidfd (Linux >= 5.3) becomes readable when the child exits: the exit
//   is awaited like any descriptor, without a SIGCHLD handler, which would be
//   process-wide state, or a thread.
// - Descriptors: every pipe is O_CLOEXEC, and the child closes everything
//   from 3 up (closefrom) in case another part of the process opened one
//   without it. Its environment is built here, never copied from ours.
// - Its own process group, so that a timeout kills the shell script *and*
//   whatever it started.
#include "runtime/hook_command.hpp"

#include "common/duration.hpp"
#include "common/log_text.hpp"
#include "net/coro.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lrsched::runtime {
namespace {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;
using namespace asio::experimental::awaitable_operators;
using net::kUseTuple;

// After SIGKILL a process dies at once unless it is stuck in the kernel
// (uninterruptible I/O); past this we stop waiting and leave it to init's
// successor, us, at the daemon's exit.
constexpr std::chrono::seconds kReapWait{10};

// One running hook. Shared by the coroutines that feed, drain and wait on
// it; the last of them to finish frees it.
struct HookProcess {
    explicit HookProcess(const asio::any_io_executor& ex) : in(ex), out(ex), pidfd(ex) {}
    HookProcess(const HookProcess&) = delete;
    HookProcess& operator=(const HookProcess&) = delete;
    // Abandoned before the command was reaped (the caller cancelled us, or
    // an exception): kill the group and reap it now. After SIGKILL waitpid
    // returns within microseconds, so blocking here is bounded in practice.
    ~HookProcess() {
        if (pid > 0 && !reaped) {
            ::kill(-pid, SIGKILL);
            int st = 0;
            ::waitpid(pid, &st, 0);
        }
    }

    stream_descriptor in, out, pidfd;
    pid_t pid = -1;
    bool reaped = false;
    int status = 0;
    std::string input;
    std::size_t written = 0;
    std::string output;  // the first kHookOutputMax bytes
    std::uint64_t output_bytes = 0;
};

// A pipe whose two ends are above 2: when the daemon runs with a standard
// descriptor closed, pipe2 could hand out 0, 1 or 2, and the child's dup2
// onto those numbers would then clobber one another.
bool make_pipe(int fds[2]) {
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    for (int i = 0; i < 2; ++i)
        if (fds[i] < 3) {
            const int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            ::close(fds[i]);
            fds[i] = moved;
        }
    return fds[0] >= 0 && fds[1] >= 0;
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

// write(2) to a pipe whose reader has gone raises SIGPIPE, which would kill
// the daemon (nothing here ignores it: sockets use MSG_NOSIGNAL). Block it
// around our own write and discard the one it raised.
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t size) {
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    const ssize_t n = ::write(fd, data, size);
    const int err = errno;
    if (n < 0 && err == EPIPE) {
        const timespec zero{};
        (void)sigtimedwait(&pipe_only, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return n;
}

struct Spawned {
    std::shared_ptr<HookProcess> process;
    std::string error;  // "cannot run: ..." when process is null
};

Spawned spawn(const asio::any_io_executor& ex,
              const std::vector<std::string>& argv,
              const HookEnv& env) {
    if (argv.empty() || argv.front().empty() || argv.front().front() != '/')
        return {nullptr, "cannot run: the program must be an absolute path"};
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    if (!make_pipe(in_pipe) || !make_pipe(out_pipe)) {
        const std::string why = std::strerror(errno);
        for (int* fd : {&in_pipe[0], &in_pipe[1], &out_pipe[0], &out_pipe[1]})
            close_fd(*fd);
        return {nullptr, "cannot run: pipe: " + why};
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawn_file_actions_addchdir_np(&actions, "/");
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));  // posix_spawn's C signature
    args.push_back(nullptr);
    std::vector<std::string> vars = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
    if (!env.job.empty()) vars.push_back("LRSCHED_JOB=" + env.job);
    if (!env.run.empty()) vars.push_back("LRSCHED_RUN=" + env.run);
    std::vector<char*> envp;
    envp.reserve(vars.size() + 1);
    for (auto& v : vars)
        envp.push_back(v.data());
    envp.push_back(nullptr);

    pid_t pid = -1;
    const int rc =
        posix_spawn(&pid, argv.front().c_str(), &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close_fd(in_pipe[0]);
    close_fd(out_pipe[1]);
    if (rc != 0) {
        close_fd(in_pipe[1]);
        close_fd(out_pipe[0]);
        return {nullptr, "cannot run: " + std::string(std::strerror(rc))};
    }

    auto p = std::make_shared<HookProcess>(ex);
    p->pid = pid;
    // Not reaped yet, so `pid` cannot have been reused: the pidfd is its.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        const std::string why = std::strerror(errno);
        close_fd(in_pipe[1]);
        close_fd(out_pipe[0]);
        // Dropping `p` kills and reaps the child (~HookProcess).
        return {nullptr, "cannot run: pidfd_open (Linux 5.3 or later is needed): " + why};
    }
    p->pidfd.assign(pidfd);
    // Our ends only: the child's ends are other file descriptions and stay
    // blocking, as programs expect of their standard input.
    ::fcntl(in_pipe[1], F_SETFL, ::fcntl(in_pipe[1], F_GETFL) | O_NONBLOCK);
    p->in.assign(in_pipe[1]);
    p->out.assign(out_pipe[0]);
    return {std::move(p), {}};
}

asio::awaitable<void> feed_stdin(std::shared_ptr<HookProcess> p) {
    while (p->written < p->input.size()) {
        auto [ec] = co_await p->in.async_wait(stream_descriptor::wait_write, kUseTuple);
        if (ec) break;  // cancelled: the timeout
        const ssize_t n = write_without_sigpipe(p->in.native_handle(), p->input.data() + p->written,
                                                p->input.size() - p->written);
        if (n > 0)
            p->written += static_cast<std::size_t>(n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;  // EPIPE: the command closed its input unread, which is its right
    }
    boost::system::error_code ignored;
    p->in.close(ignored);  // end of file for the command
    p->input = {};
}

asio::awaitable<void> drain_output(std::shared_ptr<HookProcess> p) {
    std::array<char, 16384> buf;
    for (;;) {
        auto [ec, n] = co_await p->out.async_read_some(asio::buffer(buf), kUseTuple);
        if (n > 0 && p->output.size() < kHookOutputMax)
            p->output.append(buf.data(), std::min(n, kHookOutputMax - p->output.size()));
        p->output_bytes += n;
        if (ec) break;  // eof, or cancelled; past the cap we go on reading and dropping
    }
}

asio::awaitable<void> wait_exit(std::shared_ptr<HookProcess> p) {
    auto [ec] = co_await p->pidfd.async_wait(stream_descriptor::wait_read, kUseTuple);
    if (ec) co_return;
    int st = 0;
    const pid_t r = ::waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        p->reaped = true;  // ECHILD: someone set SIGCHLD to SIG_IGN; the status is lost
        p->status = r == p->pid ? st : 0;
    }
}

asio::awaitable<std::tuple<boost::system::error_code>> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_return co_await timer.async_wait(kUseTuple);
}

std::string describe_status(int st) {
    if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return "killed by signal " + std::to_string(WTERMSIG(st));
    return "ended with wait status " + std::to_string(st);
}

}  // namespace

asio::awaitable<HookOutcome> run_hook_command(std::vector<std::string> argv,
                                              std::string stdin_bytes,
                                              std::chrono::milliseconds timeout,
                                              HookEnv env) {
    HookOutcome out;
    out.kind = "command";
    out.attempts = 1;
    auto spawned = spawn(co_await asio::this_coro::executor, argv, env);
    if (!spawned.process) {
        out.detail = spawned.error;
        co_return out;
    }
    const std::shared_ptr<HookProcess> p = std::move(spawned.process);
    p->input = std::move(stdin_bytes);

    // Done when the command has taken its input (or refused it), closed its
    // output and exited; the timer cancels whatever is still pending.
    const auto finished =
        co_await ((feed_stdin(p) && drain_output(p) && wait_exit(p)) || sleep_for(timeout));
    const bool timed_out = finished.index() == 1;
    if (timed_out) {
        // The group outlives its leader as long as one member does: killed
        // before the leader is reaped, so its id cannot have been reused.
        ::kill(-p->pid, SIGKILL);
        if (!p->reaped) (void)co_await (wait_exit(p) || sleep_for(kReapWait));
    }

    const std::string after = " after the " + format_duration(timeout) + " timeout";
    if (!p->reaped)
        out.detail = "killed by signal 9" + after + ", not reaped yet";
    else if (timed_out && WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL)
        out.detail = "killed by signal 9" + after;
    else if (timed_out)  // it exited, but its output stayed open (a child kept it)
        out.detail = describe_status(p->status) + ", its process group killed" + after;
    else
        out.detail = describe_status(p->status);
    out.ok = p->reaped && !timed_out && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
    out.output = escape_log_message(p->output);
    if (p->output_bytes > p->output.size())
        out.output +=
            " [" + std::to_string(p->output_bytes - p->output.size()) + " more bytes dropped]";
    co_return out;
}

}  // namespace lrsched::runtime
