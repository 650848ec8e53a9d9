// ControlServer: the control API's listeners (net/control_server.hpp). Owns
// the socket file's life (stale one replaced, live one never taken, removed
// on close only while it is still ours), the peer check, and each
// connection's bounds: header and body caps, one deadline over reading,
// handling and writing, and a cap on connections open at once.
// Expected load: a few requests a minute; at most max_connections at once.
//
// Everything runs on the io_context's one thread; close() and the
// destructor must be called there too.
#include "net/control_server.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "net/control_socket.hpp"
#include "net/net.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <tuple>
#include <unistd.h>

namespace lrsched::net {
namespace {

using control_socket::clear_stale;
using control_socket::ensure_parent;
using control_socket::parse_loopback;
using control_socket::peer_creds;
using control_socket::PeerCreds;
using unix_proto = asio::local::stream_protocol;

// What every connection shares with the server, kept alive by the
// connections' coroutines so that a server destroyed while they are
// suspended leaves them nothing dangling.
struct Shared {
    Handler handler;
    ServerLimits limits;
    bool unix_socket = true;
    uid_t daemon_uid = 0;
    gid_t socket_gid = 0;
    bool closed = false;
    std::size_t open = 0;
    std::uint64_t next_id = 0;
    // Closes one open connection's socket: how close() ends them.
    std::map<std::uint64_t, std::function<void()>> closers;
};

std::string errno_text(int err) {
    return std::strerror(err);
}

std::string json_error(std::string_view message) {
    // Our own words only: nothing from the request goes back.
    std::string out = "{\"error\":\"";
    for (char c : message) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += "\"}";
    return out;
}

HttpResponse error_response(int status, std::string_view message) {
    return HttpResponse{status, "application/json", json_error(message), {}};
}

http::response<http::string_body> to_beast(const HttpResponse& r) {
    http::response<http::string_body> res;
    res.version(11);
    // Beast throws past 999; a handler's out-of-range status is our bug.
    const bool valid = r.status >= 100 && r.status <= 599;
    res.result(static_cast<unsigned>(valid ? r.status : 500));
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    // The routes' own headers (Allow on a 405); never a request's.
    for (const auto& [name, value] : r.headers)
        res.set(name, value);
    res.body() = r.body;
    res.keep_alive(false);  // one request per connection
    res.prepare_payload();  // Content-Length, always
    return res;
}

// A request Beast could not parse, as opposed to a peer that went away
// (end_of_stream, partial_message) or a socket closed by the deadline.
bool is_malformed(const boost::system::error_code& ec) {
    static const auto& http_category = http::make_error_code(http::error::bad_target).category();
    return ec.category() == http_category && ec != http::error::end_of_stream &&
           ec != http::error::partial_message;
}

// Sends a short answer without waiting (the kernel's buffer takes it) and
// closes: for connections past the cap, which get no coroutine.
template <class Socket>
void answer_at_once(Socket& socket, const HttpResponse& r) {
    const auto res = to_beast(r);
    std::ostringstream text;
    text << res;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) (void)socket.send(asio::buffer(text.str()), 0, ec);
    socket.shutdown(asio::socket_base::shutdown_both, ec);
    socket.close(ec);
}

// One connection: peer check, read, handle, write, close; the deadline's
// timer closes the socket when it fires, which ends whatever is pending. It
// runs while the peer is read and while the answer is written, twice the
// deadline at most; the handler's own time is not the peer's.
template <class Socket>
asio::awaitable<void> serve(std::shared_ptr<Shared> s,
                            std::shared_ptr<Socket> socket,
                            HttpPeer peer,
                            bool allowed) {
    // Frees the connection's slot however the coroutine ends (an exception
    // here would otherwise leak it for the daemon's lifetime).
    struct Slot {
        Shared* shared;
        std::uint64_t id;
        bool held = true;
        void release() {
            if (!held) return;
            held = false;
            --shared->open;
            shared->closers.erase(id);
        }
        ~Slot() { release(); }
    };
    Slot slot{s.get(), s->next_id++};
    auto close_socket = [socket] {
        boost::system::error_code ec;
        socket->close(ec);
    };
    s->closers.emplace(slot.id, close_socket);
    asio::steady_timer timer(socket->get_executor(), s->limits.deadline);
    auto on_deadline = [socket](boost::system::error_code ec) {
        if (ec) return;  // cancelled: the exchange ended in time
        boost::system::error_code ignored;
        socket->close(ignored);
    };
    timer.async_wait(on_deadline);

    HttpResponse answer;
    bool answer_ready = false;
    if (!allowed) {
        // One line, no request content: a refused peer chooses none of it.
        spdlog::warn("control: refused a client uid={} gid={} pid={}", peer.uid, peer.gid,
                     peer.pid);
        answer = error_response(403, "this user may not use the control socket");
        answer_ready = true;
    }

    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s->limits.max_header_bytes));
    parser.body_limit(s->limits.max_body_bytes);
    if (!answer_ready) {
        auto [ec, n] = co_await http::async_read_header(*socket, buffer, parser, kUseTuple);
        if (!ec && !parser.is_done()) {
            // curl sends "Expect: 100-continue" before a body over 1 KB and
            // waits a second for this line; the body cap was checked
            // against Content-Length already.
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                http::response<http::empty_body> go_on{http::status::continue_, 11};
                (void)co_await http::async_write(*socket, go_on, kUseTuple);
            }
            std::tie(ec, n) = co_await http::async_read(*socket, buffer, parser, kUseTuple);
        }
        if (ec == http::error::header_limit) {
            answer = error_response(431, "request header too large");
            answer_ready = true;
        } else if (ec == http::error::body_limit) {
            answer = error_response(413, "request body too large");
            answer_ready = true;
        } else if (ec && is_malformed(ec) && socket->is_open()) {
            answer = error_response(400, "malformed request");
            answer_ready = true;
        } else if (ec) {
            // Gone, silent past the deadline, or closed by close(): nobody to answer.
            answer_ready = false;
        } else {
            HttpRequest req;
            req.method = std::string(parser.get().method_string());
            req.target = std::string(parser.get().target());
            req.body = std::move(parser.get().body());
            if (const auto host = parser.get().find(http::field::host); host != parser.get().end())
                req.host = std::string(host->value());
            req.peer = peer;
            const std::string path = req.target.substr(0, req.target.find('?'));
            // The deadline bounds the peer (reading the request, taking the
            // answer), not the daemon's own work: `plan` lists a whole
            // fleet through calls that have deadlines of their own.
            timer.cancel();
            try {
                answer = co_await s->handler(std::move(req));
            } catch (const std::exception& e) {
                spdlog::error("control: the handler failed path={} error={}", log_value(path),
                              log_error(e.what()));
                answer = error_response(500, "internal error");
            } catch (...) {
                spdlog::error("control: the handler failed path={} error=unknown", log_value(path));
                answer = error_response(500, "internal error");
            }
            answer_ready = true;
        }
    }

    if (answer_ready && socket->is_open()) {
        timer.expires_after(s->limits.deadline);
        timer.async_wait(on_deadline);
        auto res = to_beast(answer);
        auto [wec, written] = co_await http::async_write(*socket, res, kUseTuple);
        (void)written;
        boost::system::error_code ignored;
        if (!wec) socket->shutdown(asio::socket_base::shutdown_send, ignored);
    }
    timer.cancel();
    // The slot is free before the peer can see the end of the answer, so
    // a client that read an answer to its end may connect again at once.
    slot.release();
    boost::system::error_code ignored;
    socket->close(ignored);
}

void log_spawn_failure(const std::exception_ptr& e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("control: a connection failed error={}", log_error(ex.what()));
    } catch (...) {
        spdlog::error("control: a connection failed error=unknown");
    }
}

template <class Acceptor>
asio::awaitable<void> accept_loop(std::shared_ptr<Shared> s, std::shared_ptr<Acceptor> acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor->async_accept(kUseTuple);
        if (s->closed || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            // Out of descriptors, or a peer gone before accept: pause rather
            // than spin, and go on.
            spdlog::warn("control: accept failed error={}", log_error(ec.message()));
            asio::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
            co_await pause.async_wait(kUseTuple);
            continue;
        }
        if (s->open >= s->limits.max_connections) {
            answer_at_once(socket, error_response(503, "too many connections"));
            continue;
        }
        HttpPeer peer;
        bool allowed = true;
        if (s->unix_socket) {
            const PeerCreds creds = peer_creds(socket.native_handle());
            peer = creds.peer;
            allowed = creds.ok &&
                      peer_allowed(peer.uid, peer.gid, creds.groups, s->daemon_uid, s->socket_gid);
        } else {
            peer.via = HttpPeer::Via::tcp;
        }
        ++s->open;
        using Socket = std::remove_cvref_t<decltype(socket)>;
        auto conn = std::make_shared<Socket>(std::move(socket));
        asio::co_spawn(acceptor->get_executor(), serve(s, conn, peer, allowed), log_spawn_failure);
    }
}

}  // namespace

bool peer_allowed(uid_t uid,
                  gid_t gid,
                  const std::vector<gid_t>& groups,
                  uid_t daemon_uid,
                  gid_t socket_gid) noexcept {
    if (uid == 0 || uid == daemon_uid) return true;
    if (gid == socket_gid) return true;
    for (gid_t g : groups) {
        if (g == socket_gid) return true;
    }
    return false;
}

struct ControlServer::Impl {
    std::shared_ptr<Shared> shared;
    std::shared_ptr<unix_proto::acceptor> unix_acceptor;
    std::shared_ptr<tcp::acceptor> tcp_acceptor;
    std::string path;  // the socket file we bound, empty for TCP
    dev_t dev = 0;
    ino_t ino = 0;
    unsigned short port = 0;
};

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlServer::~ControlServer() {
    close();
}

unsigned short ControlServer::port() const noexcept {
    return impl_->port;
}

Result<std::unique_ptr<ControlServer>> ControlServer::listen_unix(asio::io_context& io,
                                                                  const std::string& path,
                                                                  unsigned mode,
                                                                  Handler handler,
                                                                  ServerLimits limits) {
    if ((mode & ~0777u) != 0 || (mode & 0007u) != 0) {
        char text[8];
        std::snprintf(text, sizeof(text), "%04o", mode & 07777u);
        return Error(Errc::invalid_input, std::string("control.mode ") + text +
                                              " is refused: others may never use the control "
                                              "socket (use 0660 or 0600)");
    }
    if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        return Error(Errc::invalid_input,
                     "control.socket " + quote_value(path) +
                         " is empty or longer than a socket path may be (107 bytes)");
    }
    if (auto r = ensure_parent(path); !r) return std::move(r).error();
    if (auto r = clear_stale(path); !r) return std::move(r).error();

    auto impl = std::make_unique<Impl>();
    impl->shared = std::make_shared<Shared>();
    impl->shared->handler = std::move(handler);
    impl->shared->limits = limits;
    impl->shared->unix_socket = true;
    impl->shared->daemon_uid = ::geteuid();

    auto acceptor = std::make_shared<unix_proto::acceptor>(io);
    boost::system::error_code ec;
    acceptor->open(unix_proto(), ec);
    if (!ec) {
        // The file is created by bind() with the process umask applied: a
        // umask that leaves only `mode` means it is never, even briefly,
        // wider than asked. umask is per process: the daemon sets up its
        // listeners before it starts other threads.
        const mode_t old_mask = ::umask(static_cast<mode_t>(~mode & 0777u));
        acceptor->bind(unix_proto::endpoint(path), ec);
        ::umask(old_mask);
    }
    if (ec) return Error(Errc::io_error, "cannot bind " + quote_value(path) + ": " + ec.message());
    impl->path = path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return Error(Errc::io_error,
                     "cannot inspect " + quote_value(path) + ": " + errno_text(errno));
    }
    impl->dev = st.st_dev;
    impl->ino = st.st_ino;
    // umask can only take bits away; chmod sets exactly `mode`.
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
        const int err = errno;
        ::unlink(path.c_str());
        return Error(Errc::io_error,
                     "cannot set the mode of " + quote_value(path) + ": " + errno_text(err));
    }
    impl->shared->socket_gid = st.st_gid;
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        ::unlink(path.c_str());
        return Error(Errc::io_error, "cannot listen on " + quote_value(path) + ": " + ec.message());
    }
    impl->unix_acceptor = acceptor;
    asio::co_spawn(io, accept_loop(impl->shared, acceptor), log_spawn_failure);
    return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

Result<std::unique_ptr<ControlServer>> ControlServer::listen_tcp(asio::io_context& io,
                                                                 const std::string& host_port,
                                                                 Handler handler,
                                                                 ServerLimits limits) {
    auto endpoint = parse_loopback(host_port);
    if (!endpoint) return std::move(endpoint).error();
    auto impl = std::make_unique<Impl>();
    impl->shared = std::make_shared<Shared>();
    impl->shared->handler = std::move(handler);
    impl->shared->limits = limits;
    impl->shared->unix_socket = false;

    auto acceptor = std::make_shared<tcp::acceptor>(io);
    boost::system::error_code ec;
    acceptor->open(endpoint->protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(*endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error(Errc::io_error,
                     "cannot listen on " + quote_value(host_port) + ": " + ec.message());
    }
    impl->port = acceptor->local_endpoint(ec).port();
    impl->tcp_acceptor = acceptor;
    asio::co_spawn(io, accept_loop(impl->shared, acceptor), log_spawn_failure);
    return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

void ControlServer::close() {
    if (!impl_ || !impl_->shared || impl_->shared->closed) return;
    impl_->shared->closed = true;
    boost::system::error_code ec;
    if (impl_->unix_acceptor) impl_->unix_acceptor->close(ec);
    if (impl_->tcp_acceptor) impl_->tcp_acceptor->close(ec);
    // Each closer ends a connection's pending operation; its coroutine then
    // unregisters itself later, so iterate over a copy.
    auto closers = impl_->shared->closers;
    for (auto& [id, close_one] : closers)
        close_one();
    if (!impl_->path.empty()) {
        // Only our own file: another daemon may have replaced it since.
        struct stat st {};
        if (::lstat(impl_->path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_dev == impl_->dev && st.st_ino == impl_->ino) {
            ::unlink(impl_->path.c_str());
        }
    }
}

}  // namespace lrsched::net
