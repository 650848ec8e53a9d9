// The simulator's HTTPS server: an accept loop and one coroutine per
// connection on one io_context thread. Expected load: see server.hpp. Faults
// are enacted here because only a transport can: a reset is a close with
// SO_LINGER 0, which makes the kernel send RST instead of FIN.
#include "server.hpp"

#include "cert.hpp"
#include "net/net.hpp"

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <exception>
#include <future>
#include <list>
#include <optional>

namespace lrsched::sim {

using namespace lrsched::net;  // asio, ssl, beast, http, tcp, TlsStream, kUseTuple

namespace {

// A string body served through the same chunked path as a BodySource, so a
// cut (truncate_body) works the same for both.
class StringSource final : public BodySource {
  public:
    explicit StringSource(std::string s) : s_(std::move(s)) {}
    std::uint64_t size() const override { return s_.size(); }
    std::size_t read(char* buf, std::size_t n) override {
        const std::size_t k = std::min(n, s_.size() - pos_);
        std::copy_n(s_.data() + pos_, k, buf);
        pos_ += k;
        return k;
    }

  private:
    std::string s_;
    std::size_t pos_ = 0;
};

// RST instead of FIN: the peer sees "connection reset", and data it has not
// read yet may be lost, exactly like a crashed or misbehaving server.
void reset(beast::tcp_stream& s) {
    boost::system::error_code ec;
    s.socket().set_option(tcp::socket::linger(true, 0), ec);
    s.socket().close(ec);
}

void close_quietly(beast::tcp_stream& s) {
    boost::system::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_both, ec);
    s.socket().close(ec);
}

}  // namespace

struct Server::Impl {
    Impl(const ServerOptions& o, Handler& h)
        : options(o), handler(h), ctx(ssl::context::tls_server), acceptor(io) {}

    // An open connection, so stop() and drop_connections() can reach it.
    struct Live {
        beast::tcp_stream* stream = nullptr;
        asio::steady_timer* delay = nullptr;  // set while a slow answer waits
    };

    ServerOptions options;
    Handler& handler;
    asio::io_context io{1};
    ssl::context ctx;
    tcp::acceptor acceptor;
    std::optional<asio::signal_set> signals;
    std::list<Live> live;
    bool stopping = false;
    ReadyInfo info;
    const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<std::uint64_t> connections{0}, handshakes{0}, requests{0};

    double now() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }

    void shutdown();
    void close_all();
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(tcp::socket socket);
    // `stream`, `live_entry` and `res` live in the frame of session(), which awaits this.
    asio::awaitable<bool> send(TlsStream* stream, HttpResponse* res, bool keep_alive);
};

// Registers a connection in Impl::live for the lifetime of its coroutine.
class LiveGuard {
  public:
    LiveGuard(Server::Impl* impl, beast::tcp_stream* s)
        : impl_(impl), it_(impl->live.insert(impl->live.end(), {s, nullptr})) {}
    ~LiveGuard() { impl_->live.erase(it_); }
    LiveGuard(const LiveGuard&) = delete;
    LiveGuard& operator=(const LiveGuard&) = delete;
    Server::Impl::Live& entry() { return *it_; }

  private:
    Server::Impl* impl_;
    std::list<Server::Impl::Live>::iterator it_;
};

void Server::Impl::close_all() {
    for (Live& l : live) {
        close_quietly(*l.stream);
        if (l.delay) l.delay->cancel();
    }
}

void Server::Impl::shutdown() {
    stopping = true;
    boost::system::error_code ec;
    acceptor.close(ec);
    if (signals) signals->cancel(ec);
    close_all();
}

asio::awaitable<void> Server::Impl::accept_loop() {
    while (!stopping) {
        auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
        if (ec == asio::error::operation_aborted || stopping) break;
        if (ec) continue;  // e.g. EMFILE: the next accept may succeed
        ++connections;
        boost::system::error_code nec;
        // Without TCP_NODELAY the last small segment of a cut body could still
        // sit in the send queue when the RST discards it.
        socket.set_option(tcp::no_delay(true), nec);
        // A failure in one connection (a throwing handler) must not stop the
        // server, and must not go unnoticed either.
        auto on_done = [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::fprintf(stderr, "lrsched-sim: connection failed: %s\n", x.what());
            }
        };
        asio::co_spawn(io, session(std::move(socket)), on_done);
    }
}

asio::awaitable<void> Server::Impl::session(tcp::socket socket) {
    TlsStream stream(std::move(socket), ctx);
    auto& lowest = beast::get_lowest_layer(stream);
    LiveGuard guard(this, &lowest);

    lowest.expires_after(options.handshake_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
    // A client that does not trust our certificate fails here: expected.
    if (hec) co_return;
    ++handshakes;

    beast::flat_buffer buffer;
    while (!stopping) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(options.max_request_body);
        parser.header_limit(options.max_request_header);
        lowest.expires_after(options.read_timeout);
        auto [rec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
        if (rec == http::error::body_limit || rec == http::error::header_limit) {
            HttpResponse too_big;
            too_big.status = rec == http::error::body_limit ? 413 : 431;
            too_big.body = "request too large\n";
            co_await send(&stream, &too_big, false);
            break;
        }
        if (rec) break;  // the client went away or idled out: the usual end

        auto msg = parser.release();
        HttpRequest req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        for (const auto& f : msg) {
            std::string name(f.name_string());
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            req.headers.emplace_back(std::move(name), std::string(f.value()));
        }
        req.body = std::move(msg.body());
        ++requests;
        HttpResponse res = handler.handle(req, now());

        if (res.delay_seconds > 0) {
            asio::steady_timer delay(io);
            delay.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(res.delay_seconds)));
            guard.entry().delay = &delay;
            co_await delay.async_wait(kUseTuple);
            guard.entry().delay = nullptr;
            if (stopping || !lowest.socket().is_open()) co_return;
        }
        if (res.fault == Fault::reset_before_reply) {
            reset(lowest);
            co_return;
        }
        if (!co_await send(&stream, &res, msg.keep_alive())) co_return;
        if (!msg.keep_alive()) break;
    }
    // Polite end: close_notify, bounded, then FIN. A client that already
    // left makes this fail at once; that is fine.
    lowest.expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(kUseTuple);
    close_quietly(lowest);
}

asio::awaitable<bool> Server::Impl::send(TlsStream* stream, HttpResponse* res, bool keep_alive) {
    auto& lowest = beast::get_lowest_layer(*stream);
    std::unique_ptr<BodySource> source =
        res->stream ? std::move(res->stream) : std::make_unique<StringSource>(std::move(res->body));
    const std::uint64_t size = source->size();
    const bool cut = res->fault == Fault::truncate_body;
    const std::uint64_t to_send = cut ? std::min(res->truncate_at, size) : size;

    http::response<http::buffer_body> msg;
    msg.result(static_cast<unsigned>(res->status));
    msg.version(11);
    for (const auto& [name, value] : res->headers) {
        // Framing is the transport's: a model cannot make the body lie.
        if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding"))
            continue;
        msg.insert(name, value);
    }
    msg.content_length(size);
    msg.keep_alive(keep_alive && !stopping);
    msg.body().data = nullptr;
    msg.body().more = size > 0;
    http::response_serializer<http::buffer_body> sr{msg};

    lowest.expires_after(options.write_timeout);
    auto [hec, hn] = co_await http::async_write_header(*stream, sr, kUseTuple);
    if (hec) co_return false;

    auto chunk = std::make_unique<char[]>(kChunkSize);
    std::uint64_t sent = 0;
    while (sent < to_send) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(kChunkSize, to_send - sent));
        const std::size_t got = source->read(chunk.get(), want);
        if (got == 0) break;  // the source is shorter than it said: cut below
        msg.body().data = chunk.get();
        msg.body().size = got;
        msg.body().more = true;
        lowest.expires_after(options.write_timeout);
        auto [wec, wn] = co_await http::async_write(*stream, sr, kUseTuple);
        // need_buffer: the serializer wants the next piece, not an error.
        if (wec && wec != http::error::need_buffer) co_return false;
        sent += got;
    }
    if (sent < size) {  // truncate_body, or a lying source: headers promised more
        reset(lowest);
        co_return false;
    }
    if (!sr.is_done()) {
        msg.body().data = nullptr;
        msg.body().size = 0;
        msg.body().more = false;
        lowest.expires_after(options.write_timeout);
        auto [fec, fn] = co_await http::async_write(*stream, sr, kUseTuple);
        if (fec) co_return false;
    }
    lowest.expires_never();
    co_return true;
}

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options, Handler& handler) {
    auto impl = std::make_unique<Impl>(options, handler);
    ServerOptions& o = impl->options;
    const int given = !o.cert_file.empty() + !o.key_file.empty() + !o.ca_file.empty();
    if (given != 0 && given != 3) {
        return Error(Errc::invalid_input, "give cert_file, key_file and ca_file together, or none");
    }
    if (given == 0) {
        if (o.state_dir.empty())
            return Error(Errc::invalid_input, "a state_dir is needed to generate certificates");
        auto files = generate_certificates(o.state_dir, o.wrong_host);
        if (!files) return std::move(files).error();
        o.cert_file = files->cert_file;
        o.key_file = files->key_file;
        o.ca_file = files->ca_file;
    }
    SSL_CTX_set_min_proto_version(impl->ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    impl->ctx.use_certificate_chain_file(o.cert_file, ec);
    if (!ec) impl->ctx.use_private_key_file(o.key_file, ssl::context::pem, ec);
    if (ec) return Error(Errc::tls_error, "cannot load the server certificate: " + ec.message());

    const tcp::endpoint where(asio::ip::make_address_v4("127.0.0.1"), o.port);
    impl->acceptor.open(where.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(where, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error(Errc::io_error,
                     "cannot listen on 127.0.0.1:" + std::to_string(o.port) + ": " + ec.message());
    }
    impl->info.port = impl->acceptor.local_endpoint().port();
    impl->info.base = "https://127.0.0.1:" + std::to_string(impl->info.port);
    impl->info.ca_file = o.ca_file;

    Impl* raw = impl.get();
    auto on_done = [](std::exception_ptr e) {
        if (e)
            std::rethrow_exception(
                e);  // the accept loop itself never throws; if it does, run() fails
    };
    asio::co_spawn(raw->io, raw->accept_loop(), on_done);
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
    // Coroutine frames still pending hold LiveGuards into impl_->live: end
    // them while every member they touch is alive.
    if (!impl_->io.stopped()) {
        impl_->shutdown();
        impl_->io.run();
    }
}

const ReadyInfo& Server::ready() const noexcept {
    return impl_->info;
}

void Server::stop_on_signals() {
    impl_->signals.emplace(impl_->io, SIGINT, SIGTERM);
    Impl* raw = impl_.get();
    auto on_signal = [raw](const boost::system::error_code& ec, int) {
        if (!ec) raw->shutdown();
    };
    impl_->signals->async_wait(on_signal);
}

void Server::run() {
    impl_->io.run();
}

void Server::stop() {
    Impl* raw = impl_.get();
    asio::post(raw->io, [raw] { raw->shutdown(); });
}

void Server::drop_connections() {
    Impl* raw = impl_.get();
    std::promise<void> done;
    asio::post(raw->io, [raw, &done] {
        raw->close_all();
        done.set_value();
    });
    done.get_future().wait();
}

ServerStats Server::stats() const noexcept {
    return {impl_->connections.load(), impl_->handshakes.load(), impl_->requests.load()};
}

Result<int> run_server(const ServerOptions& options,
                       Handler& handler,
                       const std::function<void(const ReadyInfo&)>& on_ready) {
    auto server = Server::create(options, handler);
    if (!server) return std::move(server).error();
    // Signals first: whoever reads the ready line may send SIGTERM at once.
    (*server)->stop_on_signals();
    if (on_ready) on_ready((*server)->ready());
    (*server)->run();
    return 0;
}

}  // namespace lrsched::sim
