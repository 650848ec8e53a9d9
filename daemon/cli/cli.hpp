// The `lrsched` command line: argument parsing and dispatch to subcommands.
//
// Folder cli/: the commands; no Asio; includes every folder but net/.
#pragma once

namespace lrsched::cli {

// Runs one command; returns the process exit status (0 ok, 1 user error,
// 2 daemon unreachable), after printing to stdout/stderr.
int run(int argc, char** argv);

}  // namespace lrsched::cli
