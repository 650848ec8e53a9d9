#include "common/crash_point.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace lrsched {
namespace {

struct Armed {
    std::string point;  // empty: disarmed
    long remaining = 0;
};

Armed read_environment() {
    const char* v = std::getenv("LRSCHED_CRASH_AT");
    if (!v || !*v) return {};
    const std::string text = v;
    const auto colon = text.find(':');
    Armed a{text.substr(0, colon), 1};
    if (colon != std::string::npos)
        a.remaining = std::strtol(text.c_str() + colon + 1, nullptr, 10);
    return a;
}

}  // namespace

void crash_point(std::string_view point) {
    static Armed armed = read_environment();  // the daemon is single-threaded
    if (armed.point.empty() || armed.point != point) return;
    if (--armed.remaining > 0) return;
    std::raise(SIGKILL);
}

}  // namespace lrsched
