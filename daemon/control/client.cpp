// PLACEHOLDER for the CLI's client of the control API (client.hpp), so that
// branch i13-routes links and its CLI tests run: the real one is
// i13-transport's daemon/control/client.cpp; take that one at merge.
// One request over AF_UNIX with plain POSIX calls, one deadline for the
// whole exchange, the response read until EOF and bounded.
#include "control/client.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace lrsched::control {
namespace {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until `deadline`; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left));
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return true;  // the next call reports the error
    }
}

Result<HttpResponse> parse(const std::string& raw) {
    const std::size_t end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos || raw.size() < 12)
        return Error{Errc::protocol_error, "the answer is not HTTP/1.1"};
    HttpResponse r;
    r.status = std::atoi(raw.substr(9, 3).c_str());
    if (r.status < 100 || r.status > 599)
        return Error{Errc::protocol_error, "the answer has no status code"};
    r.content_type.clear();
    std::size_t length = raw.size() - end - 4;
    for (std::size_t at = raw.find("\r\n") + 2; at < end;) {
        const std::size_t eol = raw.find("\r\n", at);
        const std::string line = raw.substr(at, eol - at);
        at = eol + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (name == "content-type") r.content_type = value;
        if (name == "content-length") length = std::strtoull(value.c_str(), nullptr, 10);
    }
    if (raw.size() - end - 4 < length)
        return Error{Errc::protocol_error, "the answer is shorter than its Content-Length"};
    r.body = raw.substr(end + 4, length);
    return r;
}

}  // namespace

Result<HttpResponse> request(const std::string& socket_path,
                             const std::string& method,
                             const std::string& target,
                             const std::string& body,
                             const ClientLimits& limits) {
    const auto deadline = Clock::now() + limits.timeout;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path)
        return Error{Errc::connect_failed, "socket path too long"};
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0) return Error{Errc::io_error, std::strerror(errno)};
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        const int e = errno;
        if (e == EACCES || e == EPERM) return Error{Errc::permission_denied, std::strerror(e)};
        return Error{Errc::connect_failed, std::strerror(e)};
    }
    std::string out = method + " " + target + " HTTP/1.1\r\nHost: lrsched\r\nConnection: close\r\n";
    if (!body.empty()) out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (std::size_t sent = 0; sent < out.size();) {
        if (!wait_for(s.fd, POLLOUT, deadline))
            return Error{Errc::timeout, "timed out sending the request"};
        const ssize_t n = ::send(s.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{Errc::no_response, std::strerror(errno)};
        sent += static_cast<std::size_t>(n);
    }
    std::string raw;
    char buf[16384];
    for (;;) {
        if (!wait_for(s.fd, POLLIN, deadline))
            return Error{Errc::timeout, "timed out reading the answer"};
        const ssize_t n = ::read(s.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{Errc::response_truncated, std::strerror(errno)};
        if (n == 0) break;
        raw.append(buf, static_cast<std::size_t>(n));
        if (raw.size() > limits.max_response_bytes)
            return Error{Errc::limit_exceeded, "the answer is larger than the client's cap"};
    }
    return parse(raw);
}

}  // namespace lrsched::control
