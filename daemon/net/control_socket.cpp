// The control socket's set-up rules (net/control_socket.hpp).
#include "net/control_socket.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59  // Linux 4.13; older libc headers lack the name
#endif

namespace lrsched::net::control_socket {
namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

}  // namespace

PeerCreds peer_creds(int fd) {
    PeerCreds out;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return out;
    out.peer = HttpPeer{HttpPeer::Via::unix_socket, cred.uid, cred.gid, cred.pid};
    std::vector<gid_t> groups(64);
    for (int tries = 0; tries < 3; ++tries) {
        socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
            groups.resize(glen / sizeof(gid_t));
            out.groups = std::move(groups);
            out.ok = true;
            return out;
        }
        if (errno != ERANGE) break;
        // glen now holds the size needed.
        groups.resize(glen / sizeof(gid_t) + 1);
    }
    // A kernel without SO_PEERGROUPS: the primary group still counts.
    out.ok = true;
    return out;
}

Result<void> clear_stale(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return ok();
        return Error(Errc::io_error,
                     "cannot inspect " + quote_value(path) + ": " + errno_text(errno));
    }
    if (!S_ISSOCK(st.st_mode)) {
        return Error(Errc::invalid_input, "control.socket " + quote_value(path) +
                                              " exists and is not a socket; not removing it");
    }
    // Non-blocking, so a full backlog (EAGAIN: a live, busy server) does
    // not hang us; AF_UNIX connects complete or fail at once otherwise.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return Error(Errc::io_error, "cannot create a socket: " + errno_text(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    const int err = errno;
    ::close(fd);
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
        return Error(Errc::permission_denied,
                     "another process answers on " + quote_value(path) + "; not taking its socket");
    }
    if (err != ECONNREFUSED && err != ENOENT) {
        return Error(Errc::io_error,
                     "cannot tell whether " + quote_value(path) + " is in use: " + errno_text(err));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error(Errc::io_error, "cannot remove the stale socket " + quote_value(path) + ": " +
                                         errno_text(errno));
    }
    spdlog::info("control: replaced a stale socket path={}", log_value(path));
    return ok();
}

Result<void> ensure_parent(const std::string& path) {
    const auto parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) return ok();
    std::error_code ec;
    if (std::filesystem::exists(parent, ec)) return ok();
    std::filesystem::create_directories(parent, ec);
    if (!ec) {
        std::filesystem::permissions(parent, std::filesystem::perms(0750),
                                     std::filesystem::perm_options::replace, ec);
    }
    if (ec) {
        return Error(Errc::io_error, "cannot create the socket's folder " +
                                         quote_value(parent.string()) + ": " + ec.message());
    }
    return ok();
}

// A bare IPv6 address (::1:80) is refused: which colon ends it is a guess.
Result<tcp::endpoint> parse_loopback(const std::string& host_port) {
    const auto bad = [&](const std::string& why) {
        return Error(Errc::invalid_input, "listen address " + quote_value(host_port) + ": " + why);
    };
    const auto colon = host_port.rfind(':');
    if (colon == std::string::npos || colon == 0) return bad("expected host:port");
    std::string host = host_port.substr(0, colon);
    const std::string port_text = host_port.substr(colon + 1);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return bad("an IPv6 address goes in brackets");
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return bad("an IPv6 address goes in brackets ([::1]:PORT)");
    }
    if (port_text.empty() || port_text.size() > 5 ||
        port_text.find_first_not_of("0123456789") != std::string::npos) {
        return bad("the port is not a number");
    }
    const unsigned long port = std::stoul(port_text);
    if (port > 65535) return bad("the port is out of range");
    asio::ip::address address;
    if (host == "localhost") {
        address = asio::ip::address_v4::loopback();
    } else {
        boost::system::error_code ec;
        address = asio::ip::make_address(host, ec);
        if (ec) return bad("not an IP address or localhost");
    }
    if (!address.is_loopback()) return bad("only a loopback address may listen (127.0.0.1, [::1])");
    return tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace lrsched::net::control_socket
