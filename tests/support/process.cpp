#include "support/process.hpp"

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace lrsched::test {
namespace {

// posix_spawn with the given file actions, argv and extra "K=V" environment
// entries; returns the pid, or throws naming the program.
pid_t spawn(posix_spawn_file_actions_t* actions,
            const std::vector<std::string>& argv,
            const std::vector<std::string>& env) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        env_strings.emplace_back(*e);
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_strings)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args)
        argp.push_back(a.data());
    argp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, argp[0], actions, nullptr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(actions);
    if (rc != 0) throw std::runtime_error("posix_spawn failed for " + argv[0]);
    return pid;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env) {
    return run_process_within(argv, std::chrono::milliseconds::max(), env);
}

ProcessResult run_process_within(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds bound,
                                 const std::vector<std::string>& env) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);

    pid_t pid = 0;
    try {
        pid = spawn(&actions, argv, env);
    } catch (...) {
        for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
            ::close(fd);
        throw;
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ProcessResult result;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    using Clock = std::chrono::steady_clock;
    const bool bounded = bound != std::chrono::milliseconds::max();
    const auto deadline = bounded ? Clock::now() + bound : Clock::time_point::max();
    while (open_fds > 0) {
        int wait_ms = -1;
        if (bounded && !result.timed_out) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            wait_ms = static_cast<int>(std::max<long long>(left.count(), 0));
        }
        const int ready = ::poll(fds, 2, wait_ms);
        if (ready == 0) {
            // The bound passed: kill it; its pipes close and the loop ends.
            ::kill(pid, SIGKILL);
            result.timed_out = true;
            continue;
        }
        if (ready < 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    int status = 0;
    struct rusage usage {};
    ::wait4(pid, &status, 0, &usage);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.max_rss_kb = usage.ru_maxrss;
    return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& stderr_file) {
    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid = 0;
    try {
        pid = spawn(&actions, argv, {});
    } catch (...) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw;
    }
    ::close(out_pipe[1]);
    pid_ = pid;
    out_fd_ = out_pipe[0];
    // The ready line; a blocking read is bounded by the child: it either
    // prints or exits (closing the pipe).
    char c = 0;
    while (::read(out_fd_, &c, 1) == 1 && c != '\n')
        ready_line_ += c;
    if (ready_line_.empty()) {
        stop(SIGKILL);
        throw std::runtime_error(argv[0] + " exited before it was ready");
    }
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& log_file,
                                     LogOnly,
                                     const std::vector<std::string>& env) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    // One open file description for both streams: lines never overwrite each other.
    posix_spawn_file_actions_addopen(&actions, 2, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
    posix_spawn_file_actions_adddup2(&actions, 2, 1);
    pid_ = spawn(&actions, argv, env);
}

int BackgroundProcess::stop(int signal) {
    if (stopped_) return status_;
    ::kill(pid_, signal);
    // Bounded wait without sleeping: a pidfd becomes readable when the
    // process exits. SIGTERM gets 10 s, then SIGKILL.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        if (::poll(&p, 1, 10'000) == 0) ::kill(pid_, SIGKILL);
        ::close(pidfd);
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    stopped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (out_fd_ >= 0) ::close(out_fd_);
    return status_;
}

std::optional<int> BackgroundProcess::exited() {
    if (stopped_) return status_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    stopped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (out_fd_ >= 0) ::close(out_fd_);
    return status_;
}

BackgroundProcess::~BackgroundProcess() {
    stop(SIGTERM);
}

}  // namespace lrsched::test
