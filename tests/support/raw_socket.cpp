#include "support/raw_socket.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace lrsched::test {
namespace {

sockaddr_un unix_address(const std::string& name, socklen_t& len) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (name.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long");
    std::memcpy(addr.sun_path, name.data(), name.size());
    const bool abstract = !name.empty() && name.front() == '@';
    if (abstract) addr.sun_path[0] = '\0';
    len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));
    return addr;
}

// Waits for `events` on fd within the hang bound.
bool wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(kHangBound.count())) > 0;
}

}  // namespace

RawFd::~RawFd() {
    reset();
}

RawFd& RawFd::operator=(RawFd&& other) noexcept {
    if (this != &other) {
        reset();
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

void RawFd::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

RawFd unix_connect(const std::string& path) {
    RawFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    socklen_t len = 0;
    const sockaddr_un addr = unix_address(path, len);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0)
        throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
    return fd;
}

RawFd tcp_connect(unsigned short port) {
    RawFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
        throw std::runtime_error(std::string("connect 127.0.0.1: ") + std::strerror(errno));
    return fd;
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

ReadResult read_until_closed(int fd) {
    ReadResult out;
    char buf[4096];
    for (;;) {
        if (!wait_for(fd, POLLIN)) return out;
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            out.closed = true;
            return out;
        }
        out.data.append(buf, static_cast<std::size_t>(n));
    }
}

std::string read_head(int fd) {
    std::string in;
    char c;
    while (in.find("\r\n\r\n") == std::string::npos) {
        if (!wait_for(fd, POLLIN)) break;
        if (::recv(fd, &c, 1, 0) != 1) break;
        in += c;
    }
    return in;
}

ScriptedServer::ScriptedServer(const std::string& path, std::function<void(int fd)> script)
    : listener_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    socklen_t len = 0;
    const sockaddr_un addr = unix_address(path, len);
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_.get(), 4) != 0)
        throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
    thread_ = std::thread([this, script = std::move(script)] {
        if (!wait_for(listener_.get(), POLLIN)) return;
        RawFd conn(::accept(listener_.get(), nullptr, nullptr));
        if (conn.get() >= 0) script(conn.get());
    });
}

ScriptedServer::~ScriptedServer() {
    thread_.join();
}

RawFd bind_datagram(const std::string& name) {
    RawFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    socklen_t len = 0;
    const sockaddr_un addr = unix_address(name, len);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0)
        throw std::runtime_error("cannot bind " + name + ": " + std::strerror(errno));
    return fd;
}

std::string receive_datagram(int fd) {
    if (!wait_for(fd, POLLIN)) return {};
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace lrsched::test
