// HttpsClient: the daemon's one way to speak HTTPS (the MDE API, the token
// endpoint, result downloads). Expected load: a few calls per second per
// tenant, a handful of tenants, downloads up to hundreds of MB streamed to a
// sink; all on the daemon's single io_context thread.
//
// The certificate chain and the host name are always verified (system trust
// store plus an optional extra CA file); there is deliberately no option to
// turn that off, not even for tests, which use a test CA.
#pragma once

#include "common/result.hpp"
#include "common/url.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace lrsched::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Every phase of a call has its own deadline; `total` bounds the whole call
// (connect to last body byte) and shortens whichever phase it overlaps.
struct Timeouts {
    std::chrono::milliseconds connect{10'000};    // name resolution and TCP connect
    std::chrono::milliseconds handshake{10'000};  // TLS handshake
    std::chrono::milliseconds io{30'000};         // each write, each read (idle time)
    std::chrono::milliseconds total{120'000};     // the whole call
};

// A non-2xx answer to a request with a sink (a download) keeps this much of
// its body for the message; the rest is never read and the connection is
// closed. An error page is no reason to buffer up to the download cap.
inline constexpr std::size_t kErrorBodyPrefix = 4096;

// Receives a streamed body piece by piece (each at most kChunkSize bytes); an
// error stops the download and is returned by request().
using BodySink = std::function<Result<void>(std::string_view chunk)>;

struct Request {
    std::string method = "GET";
    std::string url;  // https://host[:port]/path?query
    Headers headers;  // Host, Content-Length and User-Agent are added
    std::string body;
    // Required: the largest response body accepted. Small for JSON calls, the
    // evidence cap for downloads. There is no default on purpose.
    std::uint64_t body_limit = 0;
    Timeouts timeouts;
    // When set, a 2xx answer's body goes here and Response::body stays empty;
    // any other answer's body (an error message) goes to Response::body, cut
    // at kErrorBodyPrefix bytes.
    BodySink sink;
};

struct Response {
    int status = 0;
    Headers headers;                 // in the order received, names as sent
    std::string body;                // empty when the request had a sink
    std::uint64_t body_bytes = 0;    // bytes of body received (in `body` or given to the sink)
    bool body_cut = false;           // an error body cut at kErrorBodyPrefix, the rest unread
    bool reused_connection = false;  // served on a pooled keep-alive connection

    // The first header called `name` (ASCII case-insensitive), or empty.
    std::string_view header(std::string_view name) const;
};

struct ClientOptions {
    std::string ca_file;  // extra trusted CA certificates (PEM), besides the system store
    std::string user_agent = "lrsched/0.1";
};

// The URL parser is pure and lives in common/ (job validation uses it too).
using lrsched::parse_https_url;
using lrsched::Url;

class HttpsClient {
  public:
    inline static constexpr std::size_t kChunkSize = std::size_t{64} * 1024;

    // Fails when ca_file cannot be loaded.
    static Result<std::unique_ptr<HttpsClient>> create(boost::asio::io_context& io,
                                                       const ClientOptions& options);
    ~HttpsClient();
    HttpsClient(const HttpsClient&) = delete;
    HttpsClient& operator=(const HttpsClient&) = delete;

    // One call. Errors (Errc): invalid_input (bad URL, no body_limit),
    // connect_failed, tls_error, timeout, no_response (request sent, maybe
    // processed, nothing came back), response_truncated, protocol_error,
    // limit_exceeded (body over body_limit), or the sink's error. A GET that
    // fails on a pooled connection before any response byte is retried once
    // on a fresh one; nothing else is ever retried here.
    //
    // The client must outlive the returned awaitable.
    boost::asio::awaitable<Result<Response>> request(Request req);

    // Pooled idle connections, for tests and metrics.
    std::size_t idle_connections() const noexcept;

    struct Impl;

  private:
    explicit HttpsClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lrsched::net
