// HttpsClient: connection set-up with verified TLS, one request/response
// exchange with a deadline on every phase, and a pool of one idle keep-alive
// connection per (host, port). Expected load: see https_client.hpp; the pool
// stays tiny (one entry per API host).
#include "net/https_client.hpp"

#include "common/text.hpp"
#include "net/http_errors.hpp"
#include "net/net.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <map>

namespace lrsched::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint32_t kHeaderLimit = 64 * 1024;

struct Connection {
    Connection(asio::io_context& io, ssl::context& ctx) : stream(io, ctx) {}
    TlsStream stream;
    beast::flat_buffer buffer;
};

// One attempt of a call on one connection.
struct Attempt {
    Result<Response> result;
    // Failed on the way out or before any response byte, for a reason a
    // connection the server already closed would give (not a timeout): a
    // GET may then be retried on a fresh connection.
    bool stale_candidate = false;
    bool keep_alive = false;
};

// SSL_set_tlsext_host_name is a macro with a C-style cast; this is its body.
long set_sni(SSL* ssl, const std::string& host) {
    return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                    const_cast<char*>(host.c_str()));
}

// Hosts are checked against the certificate's subjectAltName only, as
// browsers do (CA/Browser Forum baseline requirements): OpenSSL's default,
// and Asio's host_name_verification, fall back to the subject's CN when a
// certificate has no SAN, which would take a CN-only certificate for any
// name it spells.
constexpr unsigned kHostFlags =
    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

// The verify callback: the chain verdict, then the leaf's SAN against the
// host (a DNS name, or an IP address for an IP literal).
struct SanVerification {
    std::string host;
    bool ip_literal = false;
    bool operator()(bool preverified, ssl::verify_context& ctx) const {
        if (!preverified) return false;
        X509_STORE_CTX* store = ctx.native_handle();
        if (X509_STORE_CTX_get_error_depth(store) > 0) return true;  // a CA: the chain's business
        X509* leaf = X509_STORE_CTX_get_current_cert(store);
        if (ip_literal) return X509_check_ip_asc(leaf, host.c_str(), 0) == 1;
        return X509_check_host(leaf, host.data(), host.size(), kHostFlags, nullptr) == 1;
    }
};

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

std::string host_port(const Url& url) {
    const bool v6 = url.host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + url.host + "]" : url.host;
    return h + ":" + std::to_string(url.port);
}

std::string host_header(const Url& url) {
    if (url.port != 443) return host_port(url);
    return url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
}

// The URL as messages may show it: without the query, which can hold a
// secret (a SAS signature on a result download link).
std::string describe(const Request& req, const Url& url) {
    const auto path_end = url.target.find('?');
    return req.method + " https://" + host_port(url) + url.target.substr(0, path_end);
}

}  // namespace

struct HttpsClient::Impl {
    Impl(asio::io_context& io_context, ClientOptions client_options)
        : io(io_context), ctx(ssl::context::tls_client), options(std::move(client_options)) {}

    asio::io_context& io;
    ssl::context ctx;
    ClientOptions options;
    std::map<std::string, std::unique_ptr<Connection>> idle;  // key: host:port

    asio::awaitable<Result<Response>> request(Request req);
    asio::awaitable<Result<std::unique_ptr<Connection>>> connect(Url url,
                                                                 Deadline deadline,
                                                                 Timeouts timeouts,
                                                                 std::string what);
    // `conn`, `msg` and `req` live in the caller's frame, which awaits this.
    asio::awaitable<Attempt> exchange(Connection* conn,
                                      const http::request<http::string_body>* msg,
                                      const Request* req,
                                      Deadline deadline,
                                      std::string what);
};

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(asio::io_context& io,
                                                         const ClientOptions& options) {
    auto impl = std::make_unique<Impl>(io, options);
    SSL_CTX_set_min_proto_version(impl->ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    impl->ctx.set_default_verify_paths(ec);
    if (ec) return Error(Errc::tls_error, "cannot load the system trust store: " + ec.message());
    if (!options.ca_file.empty()) {
        impl->ctx.load_verify_file(options.ca_file, ec);
        if (ec) {
            return Error(Errc::tls_error,
                         "cannot load ca_file " + options.ca_file + ": " + ec.message());
        }
    }
    impl->ctx.set_verify_mode(ssl::verify_peer);
    return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::~HttpsClient() = default;

std::size_t HttpsClient::idle_connections() const noexcept {
    return impl_->idle.size();
}

asio::awaitable<Result<Response>> HttpsClient::request(Request req) {
    co_return co_await impl_->request(std::move(req));
}

asio::awaitable<Result<Response>> HttpsClient::Impl::request(Request req) {
    auto url = parse_https_url(req.url);
    if (!url) co_return url.error();
    const std::string what = describe(req, *url);
    if (req.body_limit == 0) co_return Error(Errc::invalid_input, what + ": no body_limit set");
    const Deadline deadline{Clock::now() + req.timeouts.total, req.timeouts};

    // Beast throws on an unknown verb: refuse it first.
    const http::verb verb = http::string_to_verb(req.method);
    if (verb == http::verb::unknown)
        co_return Error(Errc::invalid_input, what + ": unknown method");
    http::request<http::string_body> msg{verb, url->target, 11};
    msg.set(http::field::host, host_header(*url));
    msg.set(http::field::user_agent, options.user_agent);
    for (const auto& [name, value] : req.headers) {
        // A CR or LF in a header (say, in a token a server handed us) would
        // inject headers; the value itself is never quoted back.
        if (name.empty() || has_control_chars(name) || has_control_chars(value)) {
            co_return Error(Errc::invalid_input, what + ": control character in a header");
        }
        msg.insert(name, value);
    }
    msg.body() = std::move(req.body);
    msg.prepare_payload();
    msg.keep_alive(true);

    const std::string key = host_port(*url);
    // A GET can be sent twice without harm; a submit (POST) never silently.
    const bool idempotent = msg.method() == http::verb::get || msg.method() == http::verb::head;

    if (auto it = idle.find(key); it != idle.end()) {
        std::unique_ptr<Connection> pooled = std::move(it->second);
        idle.erase(it);
        Attempt a = co_await exchange(pooled.get(), &msg, &req, deadline, what);
        if (a.result) {
            a.result->reused_connection = true;
            if (a.keep_alive) idle[key] = std::move(pooled);
            co_return std::move(a.result);
        }
        if (!(a.stale_candidate && idempotent)) co_return std::move(a.result);
        // The server closed the pooled connection while it sat idle; the
        // request never reached a live peer, so one fresh try is safe.
    }

    auto conn = co_await connect(*url, deadline, req.timeouts, what);
    if (!conn) co_return std::move(conn).error();
    Attempt a = co_await exchange(conn->get(), &msg, &req, deadline, what);
    if (a.result && a.keep_alive) idle[key] = std::move(*conn);
    co_return std::move(a.result);
}

asio::awaitable<Result<std::unique_ptr<Connection>>> HttpsClient::Impl::connect(Url url,
                                                                                Deadline deadline,
                                                                                Timeouts timeouts,
                                                                                std::string what) {
    auto conn = std::make_unique<Connection>(io, ctx);
    auto& tcp_stream = beast::get_lowest_layer(conn->stream);
    const bool ip_literal = is_ip_literal(url.host);

    // Name resolution runs on Asio's resolver thread and cannot be cut short;
    // the system resolver's own timeouts bound it. IP literals skip it.
    tcp::resolver resolver(io);
    const auto flags = ip_literal ? tcp::resolver::numeric_host : tcp::resolver::flags{};
    auto [rec, endpoints] =
        co_await resolver.async_resolve(url.host, std::to_string(url.port), flags, kUseTuple);
    if (rec)
        co_return Error(Errc::connect_failed, what + ": cannot resolve host: " + rec.message());

    const auto connect_budget = deadline.budget(timeouts.connect);
    if (!connect_budget) co_return deadline.expired(what, "connecting");
    tcp_stream.expires_after(connect_budget->time);
    auto [cec, endpoint] = co_await tcp_stream.async_connect(endpoints, kUseTuple);
    if (cec == beast::error::timeout) co_return timeout_error(what, "connecting", *connect_budget);
    if (cec) co_return Error(Errc::connect_failed, what + ": cannot connect: " + cec.message());

    // Verification: the chain against the trust store (verify_peer on the
    // context), and the host name twice over, in the SAN only (kHostFlags):
    // SSL_set1_host makes OpenSSL check it during chain verification (and
    // report "hostname mismatch"), SanVerification repeats the check in the
    // verify callback. SNI carries names only; RFC 6066 forbids IP literals in it.
    SSL* ssl_handle = conn->stream.native_handle();
    if (!ip_literal && set_sni(ssl_handle, url.host) != 1) {
        co_return Error(Errc::tls_error, what + ": cannot set SNI");
    }
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl_handle), kHostFlags);
    if (SSL_set1_host(ssl_handle, url.host.c_str()) != 1) {
        co_return Error(Errc::tls_error, what + ": cannot set the expected host name");
    }
    conn->stream.set_verify_mode(ssl::verify_peer);
    conn->stream.set_verify_callback(SanVerification{url.host, ip_literal});

    const auto hs_budget = deadline.budget(timeouts.handshake);
    if (!hs_budget) co_return deadline.expired(what, "the TLS handshake");
    tcp_stream.expires_after(hs_budget->time);
    auto [hec] = co_await conn->stream.async_handshake(ssl::stream_base::client, kUseTuple);
    if (hec == beast::error::timeout)
        co_return timeout_error(what, "the TLS handshake", *hs_budget);
    if (hec) {
        const long verify = SSL_get_verify_result(ssl_handle);
        std::string msg = what + ": TLS handshake with " + url.host + " failed: ";
        if (verify != X509_V_OK) {
            msg += "certificate verify failed: ";
            msg += X509_verify_cert_error_string(verify);
            if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
                msg += " (the certificate is not valid for host name " + url.host + ")";
        } else {
            msg += hec.message();
        }
        co_return Error(Errc::tls_error, std::move(msg));
    }
    co_return std::move(conn);
}

asio::awaitable<Attempt> HttpsClient::Impl::exchange(Connection* conn,
                                                     const http::request<http::string_body>* msg,
                                                     const Request* req,
                                                     Deadline deadline,
                                                     std::string what) {
    auto& tcp_stream = beast::get_lowest_layer(conn->stream);

    const auto write_budget = deadline.budget(req->timeouts.io);
    if (!write_budget) co_return Attempt{deadline.expired(what, "sending the request")};
    tcp_stream.expires_after(write_budget->time);
    auto [wec, written] = co_await http::async_write(conn->stream, *msg, kUseTuple);
    if (wec == beast::error::timeout)
        co_return Attempt{timeout_error(what, "sending the request", *write_budget)};
    if (wec) co_return Attempt{lost_before_response(what, "sending the request", wec), true};

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(req->body_limit);
    parser.header_limit(kHeaderLimit);
    if (msg->method() == http::verb::head) parser.skip(true);

    const auto header_budget = deadline.budget(req->timeouts.io);
    if (!header_budget) co_return Attempt{deadline.expired(what, "waiting for the response")};
    tcp_stream.expires_after(header_budget->time);
    auto [hec, hbytes] =
        co_await http::async_read_header(conn->stream, conn->buffer, parser, kUseTuple);
    if (hec) {
        const bool started = parser.got_some();
        if (hec == beast::error::timeout) {
            co_return Attempt{timeout_error(
                what, started ? "reading the response header" : "waiting for the response",
                *header_budget)};
        }
        if (!started)
            co_return Attempt{lost_before_response(what, "waiting for the response", hec),
                              is_connection_loss(hec)};
        co_return Attempt{read_failure(what, hec, 0, req->body_limit)};
    }

    Response response;
    response.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
        response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }

    // Only a success's body is the payload; an error's is a message. A
    // download's error body (a storage front end's page, or a hostile one as
    // long as the download cap) is kept to a prefix, and the rest is left
    // unread: the connection, with bytes still due, is closed, not pooled.
    const bool to_sink = req->sink && response.status / 100 == 2;
    const bool prefix_only = req->sink && !to_sink;
    auto chunk = std::make_unique<char[]>(kChunkSize);
    while (!parser.is_done()) {
        if (prefix_only && response.body.size() >= kErrorBodyPrefix) {
            response.body.resize(kErrorBodyPrefix);
            response.body_cut = true;
            tcp_stream.expires_never();
            co_return Attempt{std::move(response), false, false};
        }
        parser.get().body().data = chunk.get();
        // One byte past the prefix tells a longer body from one of exactly that size.
        parser.get().body().size =
            prefix_only ? kErrorBodyPrefix + 1 - response.body.size() : kChunkSize;
        const std::size_t asked = parser.get().body().size;
        const auto body_budget = deadline.budget(req->timeouts.io);
        if (!body_budget) co_return Attempt{deadline.expired(what, "reading the response body")};
        tcp_stream.expires_after(body_budget->time);
        auto [bec, bbytes] =
            co_await http::async_read(conn->stream, conn->buffer, parser, kUseTuple);
        // need_buffer only says the chunk is full: not an error.
        if (bec == http::error::need_buffer) bec = {};
        const std::size_t got = asked - parser.get().body().size;
        if (got > 0) {
            const std::string_view piece(chunk.get(), got);
            if (to_sink) {
                auto sunk = req->sink(piece);
                if (!sunk) co_return Attempt{std::move(sunk).error()};
            } else {
                response.body.append(piece);
            }
            response.body_bytes += got;
        }
        if (bec == beast::error::timeout)
            co_return Attempt{timeout_error(what, "reading the response body", *body_budget)};
        if (bec) co_return Attempt{read_failure(what, bec, response.body_bytes, req->body_limit)};
    }
    tcp_stream.expires_never();
    // Leftover bytes would belong to no request: such a connection is not reused.
    const bool keep = parser.get().keep_alive() && conn->buffer.size() == 0;
    co_return Attempt{std::move(response), false, keep};
}

std::string_view Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (beast::iequals(k, name)) return v;
    }
    return {};
}

}  // namespace lrsched::net
