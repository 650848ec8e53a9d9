// The control API's transport (SPEC §6): HTTP/1.1 over the Unix socket of
// `control.socket`, and optionally over the loopback TCP address of
// `metrics.listen`. One request per connection (the answer closes it).
// What it guards, before a request reaches the handler:
//   - who: the Unix socket's file mode (`control.mode`, never open to
//     others) and the peer's credentials (SO_PEERCRED, SO_PEERGROUPS): root,
//     the daemon's own user, or a member of the socket's group;
//   - how much: caps on the header and body sizes, a deadline for reading
//     the request and writing the answer, and a cap on connections open at
//     once (past it, new ones are closed at once);
//   - the socket file: a stale one (nothing listening) is replaced; one a
//     live process answers on is never taken (the state lock,
//     runtime/state_lock.hpp, stops a second daemon earlier; this covers a
//     second daemon on another state_dir given the same socket path).
// Expected load: a few requests a minute (operators, a Prometheus scrape).
#pragma once

#include "common/http_message.hpp"
#include "common/result.hpp"
#include "net/coro.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lrsched::net {

struct ServerLimits {
    std::size_t max_header_bytes = std::size_t{8} * 1024;
    std::size_t max_body_bytes = std::size_t{64} * 1024;
    std::chrono::milliseconds deadline{
        10'000};  // to read the request, and again to write the answer (not the handler's time)
    std::size_t max_connections = 16;
};

// Whether a peer may use the Unix socket: root, `daemon_uid`, or a member
// (primary or supplementary group) of `socket_gid`. Pure, for the tests.
bool peer_allowed(uid_t uid,
                  gid_t gid,
                  const std::vector<gid_t>& groups,
                  uid_t daemon_uid,
                  gid_t socket_gid) noexcept;

// The handler answers one request; it runs on the server's io_context and
// may await (the plan route calls the API). Exceptions it throws become a
// 500 answer, logged.
using Handler = std::function<asio::awaitable<HttpResponse>(HttpRequest)>;

class ControlServer {
  public:
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Binds `path` with `mode` (group and owner bits only: others' bits
    // are refused as Errc::invalid_input) and starts accepting. The
    // socket's folder is created (0750) when missing. Errors:
    // Errc::io_error (cannot bind), Errc::permission_denied (a live socket
    // already answers at `path`: another daemon), Errc::invalid_input.
    static Result<std::unique_ptr<ControlServer>> listen_unix(asio::io_context& io,
                                                              const std::string& path,
                                                              unsigned mode,
                                                              Handler handler,
                                                              ServerLimits limits = {});
    // Binds "host:port" on a loopback address only (127.0.0.0/8, ::1;
    // "localhost"); port 0 picks one (see port()). Errors: Errc::invalid_input
    // for a non-loopback or malformed address, Errc::io_error.
    static Result<std::unique_ptr<ControlServer>> listen_tcp(asio::io_context& io,
                                                             const std::string& host_port,
                                                             Handler handler,
                                                             ServerLimits limits = {});

    // The TCP port bound (0 for a Unix socket).
    unsigned short port() const noexcept;
    // Stops accepting, closes open connections, and removes the socket
    // file it created (only if it is still the same file).
    void close();

  private:
    struct Impl;
    explicit ControlServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lrsched::net
