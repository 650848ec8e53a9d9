#include "common/crash_point.hpp"

#include <csignal>
#include <cstdlib>
#include <stdexcept>
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

void fail_point(std::string_view point, std::string_view subject) {
    static const std::string armed = [] {
        const char* v = std::getenv("LRSCHED_FAIL_AT");
        return std::string(v ? v : "");
    }();
    if (armed.empty() || armed.size() != point.size() + 1 + subject.size()) return;
    if (armed.compare(0, point.size(), point) != 0 || armed[point.size()] != '/' ||
        armed.compare(point.size() + 1, std::string::npos, subject) != 0)
        return;
    throw std::runtime_error("injected failure at " + std::string(point) + " (LRSCHED_FAIL_AT)");
}

}  // namespace lrsched
