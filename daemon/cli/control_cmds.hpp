// The CLI's side of the control API (SPEC §6): `run`, `pause`, `resume`,
// `cancel` and `reload` as requests to the daemon over `control.socket`,
// `plan` through the daemon when it runs (its machine listing then shares
// the daemon's read budget), and the helper `status` and `sessions` use to
// ask the daemon before reading the store. One request per invocation.
#pragma once

#include "cli/args.hpp"
#include "config/config.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lrsched::cli {

// Exit statuses of SPEC §6.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUserError = 1;
inline constexpr int kExitUnreachable = 2;

// `run JOB`, `pause JOB`, `resume JOB`, `cancel JOB [--machine ID]`,
// `reload`: 0 after printing the daemon's one-line answer (its JSON with
// --json); 1 for a usage error or a 4xx answer (unknown job, ...); 2 when
// the daemon cannot be reached or fails (5xx). One line on stderr for each
// failure.
int cmd_control(const Args& args);

// `plan JOB`: through the daemon when it listens; with no daemon (nothing
// at the socket), or for a job file rather than a job name, the direct plan
// of cli/plan.hpp.
int cmd_plan(const Args& args);

// Asks the daemon for `target` (a GET) and prints its body on stdout.
// nullopt when no daemon listens at cfg.control.socket (Errc::connect_failed):
// the caller reads the store instead. Otherwise the exit status, after one
// line on stderr for a failure.
std::optional<int> read_from_daemon(const config::Config& cfg,
                                    const char* cmd,
                                    const std::string& target);

// `s` percent-encoded for a query value or a path segment: everything but
// RFC 3986's unreserved characters.
std::string url_escape(std::string_view s);

}  // namespace lrsched::cli
