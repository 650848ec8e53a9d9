// Command-line arguments: options may come before or after the positional
// arguments (`lrsched pause JOB -c FILE`), as SPEC §6 asks.
#pragma once

#include "common/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lrsched::cli {

struct Args {
    std::string command;  // empty: none given
    std::vector<std::string> positional;
    std::optional<std::string> config;   // -c FILE, --config FILE, --config=FILE
    bool json = false;                   // --json
    bool help = false;                   // -h, --help
    bool version = false;                // --version
    std::optional<std::string> state;    // --state S
    std::optional<std::string> machine;  // --machine ID
    std::optional<std::string> digest;   // --digest HEX (verify)
    std::optional<std::string> run;      // --run N (results, stack)
    std::optional<std::string> format;   // --format table|jsonl|csv (results)
    bool show = false;                   // --show (diff)
};

// argv[0] is skipped. An unknown option, or one missing its value, is an error.
Result<Args> parse_args(const std::vector<std::string>& argv);

}  // namespace lrsched::cli
