// The `on_finish` command (SPEC §2): a program run once when a run ends, its
// argv from the job file (no shell), the run's summary on standard input.
// Expected load: one short-lived process per finished run, a few a day per
// job; it runs on the daemon's io_context thread and never blocks it, and a
// hook that misbehaves (ignores its input, floods its output, never ends)
// costs at most `timeout` and 4 KiB of memory.
//
// HookOutcome is shared with the webhook (runtime/hook_webhook.hpp): what
// the closer writes to the audit log and `status`.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace lrsched::runtime {

struct HookOutcome {
    std::string kind;  // "command" or "webhook"
    bool ok = false;
    // "exit 0", "exit 3", "killed by signal 9 after the 60s timeout",
    // "HTTP 200 after 3 attempts", "HTTP 500, 5 attempts, gave up",
    // "cannot run: ...". Never holds a webhook's query string.
    std::string detail;
    int attempts = 0;
    // The command's stdout and stderr (one pipe, interleaved as written): the
    // first kHookOutputMax bytes, control and non-ASCII bytes escaped
    // (escape_log_message), ready for a log line.
    std::string output;
};

inline constexpr std::size_t kHookOutputMax = 4096;

// What the hook learns about its run besides standard input: its only
// environment variables with PATH=/usr/bin:/bin and LANG=C.UTF-8. The
// daemon's own environment (CREDENTIALS_DIRECTORY, proxies, ...) is never
// passed on. Empty fields are left out.
struct HookEnv {
    std::string job;  // LRSCHED_JOB
    std::string run;  // LRSCHED_RUN
};

// Runs argv[0] (an absolute path) with argv, in its own process group, in
// "/", with `stdin_bytes` on a pipe as standard input (a command that does
// not read it is fine), standard output and error on one pipe, every other
// descriptor closed. Ends when the command has exited and closed its output,
// or at `timeout`, when its whole process group is killed (SIGKILL) and the
// command reaped. Never throws for the command's failures: they are in the
// outcome; `ok` is exit status 0.
boost::asio::awaitable<HookOutcome> run_hook_command(std::vector<std::string> argv,
                                                     std::string stdin_bytes,
                                                     std::chrono::milliseconds timeout,
                                                     HookEnv env = {});

}  // namespace lrsched::runtime
