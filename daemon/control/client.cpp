// The CLI's control client (control/client.hpp): connect, send one request,
// read one answer, with plain POSIX calls under one deadline and a parser
// that reads only what our own server writes (HTTP/1.1, Content-Length, no
// chunks). Expected load: one request per CLI command.
#include "control/client.hpp"

#include "common/diagnostic.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string_view>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace lrsched::control {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

// Milliseconds left for poll(), at least 0.
int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    return left.count() > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left.count());
}

bool has_ctl_or_space(std::string_view s) {
    for (unsigned char c : s) {
        if (c <= 0x20 || c == 0x7f) return true;
    }
    return false;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
        if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// The head of an answer: status line and the headers we use.
struct Head {
    int status = 0;
    std::string content_type;
    std::optional<std::size_t> content_length;
    std::size_t body_start = 0;
};

// Parses the head once "\r\n\r\n" has arrived; `why` gets the reason when
// the answer is not HTTP/1.1 as our server writes it.
std::optional<Head> parse_head(std::string_view data, std::size_t end, std::string& why) {
    Head head;
    head.body_start = end + 4;
    std::string_view rest = data.substr(0, end + 2);  // each line ends in "\r\n"
    auto next_line = [&rest]() {
        const auto eol = rest.find("\r\n");
        std::string_view line = rest.substr(0, eol);
        rest.remove_prefix(eol + 2);
        return line;
    };
    const std::string_view status_line = next_line();
    // "HTTP/1.1 NNN reason"
    if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 " ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
        why = "the answer does not start with an HTTP/1.1 status line";
        return std::nullopt;
    }
    const std::string_view code = status_line.substr(9, 3);
    if (code.find_first_not_of("0123456789") != std::string_view::npos || code[0] < '1' ||
        code[0] > '5') {
        why = "the answer's status code is not a number";
        return std::nullopt;
    }
    head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    while (!rest.empty()) {
        const std::string_view line = next_line();
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            why = "a header line of the answer has no name";
            return std::nullopt;
        }
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "Content-Length")) {
            std::size_t n = 0;
            const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc() || p != value.data() + value.size() || value.empty() ||
                (head.content_length && *head.content_length != n)) {
                why = "the answer's Content-Length is not one number";
                return std::nullopt;
            }
            head.content_length = n;
        } else if (iequals(name, "Transfer-Encoding")) {
            why = "the answer uses Transfer-Encoding, which the daemon never sends";
            return std::nullopt;
        } else if (iequals(name, "Content-Type")) {
            head.content_type = std::string(value);
        }
    }
    return head;
}

Result<int> connect_to(const std::string& socket_path, Clock::time_point deadline) {
    const std::string where = quote_value(socket_path);
    sockaddr_un addr{};
    if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
        return Error(Errc::invalid_input, "control socket path " + where + " is empty or too long");
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return Error(Errc::io_error,
                     std::string("cannot create a socket: ") + std::strerror(errno));
    // A blocking AF_UNIX connect waits only while the server's backlog is
    // full, and SO_SNDTIMEO bounds that wait (EAGAIN when it passes).
    const int ms = std::max(remaining_ms(deadline), 1);
    timeval tv{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) return fd;
    const int err = errno;
    ::close(fd);
    switch (err) {
        case EACCES:
        case EPERM:
            return Error(
                Errc::permission_denied,
                "permission denied on the control socket " + where +
                    " (run as root, the daemon's user, or a member of the socket's group)");
        case EAGAIN:
            return Error(Errc::timeout,
                         "the daemon on " + where + " accepts no connection in time");
        default:
            return Error(Errc::connect_failed,
                         "no daemon answers on " + where + ": " + std::strerror(err));
    }
}

// Writes the whole request. A peer that closes early (EPIPE, ECONNRESET)
// is not an error here: it may have answered already (a 403 or a 503
// before reading), and the read that follows finds out.
Result<void> write_all(int fd,
                       std::string_view data,
                       Clock::time_point deadline,
                       const std::string& where) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return ok();
        if (n < 0 && errno != EAGAIN) {
            return Error(Errc::no_response,
                         "cannot send to the daemon on " + where + ": " + std::strerror(errno));
        }
        pollfd p{fd, POLLOUT, 0};
        const int pr = ::poll(&p, 1, remaining_ms(deadline));
        if (pr == 0)
            return Error(Errc::timeout, "the daemon on " + where + " took no request in time");
        if (pr < 0 && errno != EINTR)
            return Error(Errc::io_error, std::string("poll: ") + std::strerror(errno));
    }
    return ok();
}

}  // namespace

Result<HttpResponse> request(const std::string& socket_path,
                             const std::string& method,
                             const std::string& target,
                             const std::string& body,
                             const ClientLimits& limits) {
    const std::string where = quote_value(socket_path);
    if (method.empty() || has_ctl_or_space(method) || target.empty() || target.front() != '/' ||
        has_ctl_or_space(target)) {
        return Error(Errc::invalid_input, "bad request line " + quote_value(method + " " + target));
    }
    const auto deadline = Clock::now() + limits.timeout;
    auto fd_result = connect_to(socket_path, deadline);
    if (!fd_result) return std::move(fd_result).error();
    Fd fd(*fd_result);

    std::string out =
        method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" +
        "User-Agent: lrsched-cli\r\nAccept: application/json\r\nConnection: close\r\n" +
        "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (!body.empty()) out += "Content-Type: application/json\r\n";
    out += "\r\n";
    out += body;
    if (auto w = write_all(fd.get(), out, deadline, where); !w) return std::move(w).error();

    std::string in;
    std::optional<Head> head;
    char chunk[16 * 1024];
    bool eof = false;
    for (;;) {
        if (!head) {
            const auto end = in.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::string why;
                head = parse_head(in, end, why);
                if (!head)
                    return Error(Errc::protocol_error,
                                 "the daemon on " + where + " answered badly: " + why);
                if (head->content_length && *head->content_length > limits.max_response_bytes) {
                    return Error(Errc::limit_exceeded,
                                 "the daemon's answer is larger than the " +
                                     std::to_string(limits.max_response_bytes) + "-byte cap");
                }
            }
        }
        if (head && head->content_length && in.size() - head->body_start >= *head->content_length)
            break;
        if (eof) break;

        pollfd p{fd.get(), POLLIN, 0};
        const int pr = ::poll(&p, 1, remaining_ms(deadline));
        if (pr == 0)
            return Error(Errc::timeout, "no answer from the daemon on " + where + " in time");
        if (pr < 0) {
            if (errno == EINTR) continue;
            return Error(Errc::io_error, std::string("poll: ") + std::strerror(errno));
        }
        const ssize_t n = ::recv(fd.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        // ECONNRESET: the server closed with our request unread (a refusal
        // sent before reading it); what it wrote before is all there is.
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            eof = true;
            continue;
        }
        if (n < 0)
            return Error(Errc::io_error,
                         "cannot read from the daemon on " + where + ": " + std::strerror(errno));
        if (in.size() + static_cast<std::size_t>(n) > limits.max_response_bytes) {
            return Error(Errc::limit_exceeded, "the daemon's answer is larger than the " +
                                                   std::to_string(limits.max_response_bytes) +
                                                   "-byte cap");
        }
        in.append(chunk, static_cast<std::size_t>(n));
    }

    if (!head) {
        return Error(Errc::protocol_error,
                     in.empty()
                         ? "the daemon on " + where + " closed the connection without an answer"
                         : "the daemon on " + where + " sent an answer that is not HTTP/1.1");
    }
    const std::size_t have = in.size() - head->body_start;
    if (head->content_length && have < *head->content_length) {
        return Error(Errc::protocol_error, "the daemon's answer on " + where + " ended early");
    }
    HttpResponse response;
    response.status = head->status;
    response.content_type = head->content_type;
    response.body = in.substr(head->body_start, head->content_length.value_or(have));
    return response;
}

}  // namespace lrsched::control
