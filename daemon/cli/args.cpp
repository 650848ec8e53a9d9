#include "cli/args.hpp"

namespace lrsched::cli {

Result<Args> parse_args(const std::vector<std::string>& argv) {
    Args a;
    bool only_positional = false;
    for (std::size_t i = 1; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        const auto value_of = [&](const std::string& name) -> Result<std::string> {
            if (i + 1 >= argv.size())
                return Error{Errc::invalid_input, "option " + name + " needs a value"};
            return argv[++i];
        };
        if (only_positional || arg.empty() || arg[0] != '-' || arg == "-") {
            if (a.command.empty())
                a.command = arg;
            else
                a.positional.push_back(arg);
        } else if (arg == "--") {
            only_positional = true;
        } else if (arg == "-c" || arg == "--config") {
            auto v = value_of(arg);
            if (!v) return std::move(v).error();
            a.config = *v;
        } else if (arg.rfind("--config=", 0) == 0) {
            a.config = arg.substr(9);
        } else if (arg == "--state") {
            auto v = value_of(arg);
            if (!v) return std::move(v).error();
            a.state = *v;
        } else if (arg == "--machine") {
            auto v = value_of(arg);
            if (!v) return std::move(v).error();
            a.machine = *v;
        } else if (arg == "--digest") {
            auto v = value_of(arg);
            if (!v) return std::move(v).error();
            a.digest = *v;
        } else if (arg == "--run" || arg == "--format") {
            auto v = value_of(arg);
            if (!v) return std::move(v).error();
            (arg == "--run" ? a.run : a.format) = *v;
        } else if (arg == "--show") {
            a.show = true;
        } else if (arg == "--json") {
            a.json = true;
        } else if (arg == "-h" || arg == "--help") {
            a.help = true;
        } else if (arg == "--version") {
            a.version = true;
        } else {
            return Error{Errc::invalid_input, "unknown option " + arg};
        }
    }
    return a;
}

}  // namespace lrsched::cli
