// The control socket's set-up rules, apart from the serving
// (net/control_server.cpp): the peer's credentials, a stale socket file
// told from a live one, the socket's folder, and the loopback-only TCP
// address. Expected load: once at start-up, and one credentials call per
// connection.
#pragma once

#include "common/http_message.hpp"
#include "common/result.hpp"
#include "net/net.hpp"

#include <string>
#include <vector>

namespace lrsched::net::control_socket {

// The peer's credentials on a Unix socket: SO_PEERCRED for the process,
// SO_PEERGROUPS for its supplementary groups (as they were at connect()).
// ok is false when the kernel gives none: such a peer is refused.
struct PeerCreds {
    HttpPeer peer;
    std::vector<gid_t> groups;
    bool ok = false;
};
PeerCreds peer_creds(int fd);

// Makes the way clear for a socket at `path`: nothing there, or a stale
// socket (nothing listening: removed). Errors: Errc::permission_denied
// when a process answers on it, Errc::invalid_input when something other
// than a socket is there (never removed), Errc::io_error.
Result<void> clear_stale(const std::string& path);

// Creates the socket's folder (0750) when it is missing.
Result<void> ensure_parent(const std::string& path);

// "host:port" with host an IPv4 loopback address, [::1] (IPv6 in
// brackets), or localhost; anything else is Errc::invalid_input.
Result<tcp::endpoint> parse_loopback(const std::string& host_port);

}  // namespace lrsched::net::control_socket
