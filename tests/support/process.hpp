// Runs a program to completion and captures its exit status, stdout and
// stderr: end-to-end tests drive the real `lrsched` binary this way.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lrsched::test {

struct ProcessResult {
    int exit_code = -1;  // -1 when killed by a signal
    std::string out;
    std::string err;
    bool timed_out = false;  // killed by run_process_within's bound
    long max_rss_kb = 0;     // the child's peak resident set (wait4), for memory bounds
};

// argv[0] is the program path. `env` entries ("K=V") are added to the
// environment of the child. No shell is involved.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env = {});

// run_process for a program that might hang (a FIFO where a file should be):
// a child still running after `bound` is killed with SIGKILL and the result
// says timed_out. A hang detector, not a timing assertion: give a bound far
// beyond any normal answer (20 s for a command that takes milliseconds).
ProcessResult run_process_within(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds bound,
                                 const std::vector<std::string>& env = {});

// A server process for the length of a test: started, its first stdout line
// read (the ready line), and stopped with SIGTERM (SIGKILL after 10 s) when
// the object goes away. Its stderr goes to `stderr_file` (never to the
// test's own pipes, which an orphan left by a crashed test would hold open).
class BackgroundProcess {
  public:
    // Throws when the process cannot start or exits before printing a line.
    BackgroundProcess(const std::vector<std::string>& argv, const std::string& stderr_file);
    // A process that prints no ready line (the daemon, which only logs):
    // started without waiting, its stdout and stderr both appended to
    // `log_file`. ready_line() stays empty. `env` as for run_process.
    struct LogOnly {};
    BackgroundProcess(const std::vector<std::string>& argv,
                      const std::string& log_file,
                      LogOnly,
                      const std::vector<std::string>& env = {});
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    const std::string& ready_line() const noexcept { return ready_line_; }
    int pid() const noexcept { return pid_; }
    // The exit status (or -signal) once the process has ended on its own,
    // without waiting; nullopt while it runs.
    std::optional<int> exited();
    // Sends `signal` and waits for the exit; the exit status, or -signal.
    // The wait is bounded: a process still there after 10 s gets SIGKILL
    // (and the answer is then -SIGKILL whatever `signal` was).
    int stop(int signal);

  private:
    int pid_ = -1;
    int out_fd_ = -1;
    std::string ready_line_;
    bool stopped_ = false;
    int status_ = 0;
};

}  // namespace lrsched::test
