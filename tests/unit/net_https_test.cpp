// The daemon's HTTPS client against lrsched-sim's transport over real
// loopback TLS: the server runs on its own thread with a small scripted
// Handler; the client runs on the test thread. No sleeps: slow answers are
// timers in the server that stop() cancels.
#include "net/https_client.hpp"
#include "sim/server/server.hpp"
#include "support/https_sync.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

using lrsched::Errc;
using lrsched::net::ClientOptions;
using lrsched::net::HttpsClient;
using lrsched::net::Request;
using lrsched::sim::BodySource;
using lrsched::sim::Fault;
using lrsched::sim::HttpRequest;
using lrsched::sim::HttpResponse;
using lrsched::sim::Server;
using lrsched::sim::ServerOptions;
using lrsched::test::SyncHttpsClient;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

constexpr std::uint64_t kBigSize = 50ull << 20;

// Deterministic bytes (xorshift64), the same for the server and the check.
class PatternSource final : public BodySource {
  public:
    explicit PatternSource(std::uint64_t size) : size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read(char* buf, std::size_t n) override {
        std::size_t k = 0;
        for (; k < n && pos_ < size_; ++k, ++pos_) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            buf[k] = static_cast<char>(state_ & 0xff);
        }
        return k;
    }

  private:
    std::uint64_t size_;
    std::uint64_t pos_ = 0;
    std::uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

class Sha256 {
  public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view s) { EVP_DigestUpdate(ctx_, s.data(), s.size()); }
    std::string hex() {
        unsigned char md[32];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx_, md, &len);
        static constexpr char kHex[] = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out += kHex[md[i] >> 4];
            out += kHex[md[i] & 15];
        }
        return out;
    }

  private:
    EVP_MD_CTX* ctx_;
};

std::string pattern_sha256(std::uint64_t size) {
    PatternSource src(size);
    Sha256 sha;
    std::string buf(1 << 16, '\0');
    while (std::size_t n = src.read(buf.data(), buf.size()))
        sha.update({buf.data(), n});
    return sha.hex();
}

// Answers by path; counts what it sees (called on the server's thread).
class ScriptedHandler final : public lrsched::sim::Handler {
  public:
    std::atomic<int> calls{0};

    HttpResponse handle(const HttpRequest& req, double) override {
        ++calls;
        HttpResponse res;
        const std::string path = req.target.substr(0, req.target.find('?'));
        if (path == "/echo") {
            res.headers.emplace_back("Content-Type", "text/plain");
            res.headers.emplace_back("X-Echo", std::string(req.header("x-test")));
            res.body = req.method + " " + req.target + "\n" + req.body;
        } else if (path == "/big") {
            res.stream = std::make_unique<PatternSource>(kBigSize);
        } else if (path == "/slow") {
            res.delay_seconds = 3600;  // far beyond any client deadline; stop() cancels it
            res.body = "late";
        } else if (path == "/reset") {
            res.fault = Fault::reset_before_reply;
        } else if (path == "/truncate") {
            res.body = std::string(100'000, 'x');
            res.fault = Fault::truncate_body;
            res.truncate_at = 1'000;
        } else if (path == "/large") {
            res.body = std::string(10'000, 'y');
        } else {
            res.status = 404;
        }
        return res;
    }
};

// The simulator's transport on its own thread, stopped and joined at the end.
class Sim {
  public:
    explicit Sim(bool wrong_host = false) {
        ServerOptions o;
        o.state_dir = (dir_.path() / "sim").string();
        o.wrong_host = wrong_host;
        server_ = unwrap(Server::create(o, handler));
        thread_ = std::thread([s = server_.get()] { s->run(); });
    }
    ~Sim() {
        server_->stop();
        thread_.join();
    }
    Sim(const Sim&) = delete;
    Sim& operator=(const Sim&) = delete;

    Server& server() { return *server_; }
    std::string url(const std::string& path) const { return server_->ready().base + path; }
    std::string url_on(const std::string& host, const std::string& path) const {
        return "https://" + host + ":" + std::to_string(server_->ready().port) + path;
    }
    ClientOptions trusting() const {
        return ClientOptions{server_->ready().ca_file, "lrsched-test"};
    }

    ScriptedHandler handler;

  private:
    TempDir dir_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

Request get(const std::string& url, std::uint64_t limit = 1 << 20) {
    Request r;
    r.url = url;
    r.body_limit = limit;
    return r;
}

Request post(const std::string& url, std::string body) {
    Request r = get(url);
    r.method = "POST";
    r.body = std::move(body);
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
}

}  // namespace

TEST_CASE("https: GET and POST round trip with headers and body, on one kept-alive connection") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());

    Request g = get(sim.url("/echo?x=1"));
    g.headers.emplace_back("X-Test", "hello");
    auto r1 = unwrap(client.call(g));
    CHECK(r1.status == 200);
    CHECK(r1.body == "GET /echo?x=1\n");
    CHECK(r1.header("x-echo") == "hello");
    CHECK(r1.header("content-type") == "text/plain");
    CHECK_FALSE(r1.reused_connection);
    CHECK(client.idle_connections() == 1);

    auto r2 = unwrap(client.call(post(sim.url("/echo"), R"({"a":1})")));
    CHECK(r2.status == 200);
    CHECK(r2.body == "POST /echo\n{\"a\":1}");
    CHECK(r2.reused_connection);

    auto r3 = unwrap(client.call(get(sim.url("/nothing-here"))));
    CHECK(r3.status == 404);
    CHECK(r3.reused_connection);

    CHECK(sim.handler.calls == 3);
    CHECK(sim.server().stats().requests == 3);
    CHECK(sim.server().stats().connections == 1);  // three requests, one connection
}

TEST_CASE("tls: the test CA given as ca_file is trusted; without it nothing reaches the handler") {
    Sim sim;
    SyncHttpsClient trusting(sim.trusting());
    CHECK(unwrap(trusting.call(get(sim.url("/echo")))).status == 200);
    CHECK(sim.handler.calls == 1);

    SyncHttpsClient stranger(ClientOptions{});
    auto r = stranger.call(get(sim.url("/echo")));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::tls_error);
    CHECK(r.error().message.find("certificate verify failed") != std::string::npos);
    CHECK(r.error().message.find("127.0.0.1") != std::string::npos);
    CHECK(sim.handler.calls == 1);  // the refused call never got a request through
}

TEST_CASE("tls: a certificate for another host name is refused before any request") {
    Sim sim(/*wrong_host=*/true);
    SyncHttpsClient client(sim.trusting());  // the chain is trusted: only the name is wrong
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        CAPTURE(host);
        auto r = client.call(get(sim.url_on(host, "/echo")));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::tls_error);
        CHECK(r.error().message.find("mismatch") != std::string::npos);
        CHECK(r.error().message.find("not valid for host name " + host) != std::string::npos);
    }
    CHECK(sim.handler.calls == 0);
    CHECK(sim.server().stats().handshakes == 0);
}

TEST_CASE("tls: localhost and 127.0.0.1 both verify against the simulator's certificate") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    CHECK(unwrap(client.call(get(sim.url_on("localhost", "/echo")))).status == 200);
    CHECK(unwrap(client.call(get(sim.url_on("127.0.0.1", "/echo")))).status == 200);
    CHECK(sim.handler.calls == 2);
}

TEST_CASE("https: a response body over body_limit is an error, and the connection is not reused") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    auto r = client.call(get(sim.url("/large"), 9'999));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::limit_exceeded);
    CHECK(r.error().message.find("9999") != std::string::npos);
    CHECK(client.idle_connections() == 0);
    CHECK(unwrap(client.call(get(sim.url("/large"), 10'000))).body.size() == 10'000);
}

TEST_CASE("https: a 50 MB download streams to the sink in bounded chunks with the right SHA-256") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    Sha256 sha;
    std::uint64_t total = 0;
    std::size_t largest = 0;
    Request r = get(sim.url("/big"), kBigSize);
    r.sink = [&](std::string_view chunk) -> lrsched::Result<void> {
        sha.update(chunk);
        total += chunk.size();
        largest = std::max(largest, chunk.size());
        return lrsched::ok();
    };
    auto res = unwrap(client.call(std::move(r)));
    CHECK(res.status == 200);
    CHECK(res.body.empty());  // the client never held the body
    CHECK(res.body_bytes == kBigSize);
    CHECK(total == kBigSize);
    CHECK(largest <= HttpsClient::kChunkSize);
    CHECK(sha.hex() == pattern_sha256(kBigSize));
}

TEST_CASE("https: a sink error stops the download and is returned") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    Request r = get(sim.url("/big"), kBigSize);
    r.sink = [](std::string_view) -> lrsched::Result<void> {
        return lrsched::Error(Errc::io_error, "disk full");
    };
    auto res = client.call(std::move(r));
    REQUIRE_FALSE(res);
    CHECK(res.error().message == "disk full");
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("https: a reply slower than the read timeout is a timeout naming the phase") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    Request r = get(sim.url("/slow"));
    r.timeouts.io = std::chrono::milliseconds(200);
    auto res = client.call(std::move(r));
    REQUIRE_FALSE(res);
    CHECK(res.error().code == Errc::timeout);
    CHECK(res.error().message.find("waiting for the response (limit 200ms)") != std::string::npos);
    CHECK(res.error().message.find("no response byte was received") != std::string::npos);
    CHECK(sim.handler.calls == 1);
}

TEST_CASE("https: the total deadline bounds a call whose phases are each within their limits") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    Request r = get(sim.url("/slow"));
    r.timeouts.io = std::chrono::milliseconds(60'000);
    r.timeouts.total = std::chrono::milliseconds(300);
    auto res = client.call(std::move(r));
    REQUIRE_FALSE(res);
    CHECK(res.error().code == Errc::timeout);
    CHECK(res.error().message.find("total deadline of 300ms") != std::string::npos);
}

TEST_CASE("https: a POST reset before the reply reports no response byte and is not retried") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    REQUIRE(unwrap(client.call(get(sim.url("/echo")))).status == 200);
    REQUIRE(client.idle_connections() == 1);  // the POST goes out on a pooled connection

    auto r = client.call(post(sim.url("/reset"), "{}"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::no_response);
    CHECK(r.error().message.find("before any response byte was received") != std::string::npos);
    CHECK(sim.handler.calls == 2);  // one echo, one POST: never sent twice
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("https: a GET on a pooled connection the server closed is retried once, on a new one") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    REQUIRE(unwrap(client.call(get(sim.url("/echo")))).status == 200);
    REQUIRE(client.idle_connections() == 1);
    sim.server().drop_connections();  // as a keep-alive idle timeout would

    auto r = unwrap(client.call(get(sim.url("/echo?again"))));
    CHECK(r.status == 200);
    CHECK(r.body == "GET /echo?again\n");
    CHECK_FALSE(r.reused_connection);
    CHECK(sim.handler.calls == 2);
    CHECK(sim.server().stats().connections == 2);
}

TEST_CASE("https: a POST on a pooled connection the server closed is reported, not re-sent") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    REQUIRE(unwrap(client.call(get(sim.url("/echo")))).status == 200);
    sim.server().drop_connections();

    auto r = client.call(post(sim.url("/echo"), "{}"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::no_response);
    CHECK(sim.handler.calls == 1);
    CHECK(sim.server().stats().connections == 1);
}

TEST_CASE("https: a reset GET on a fresh connection is not retried either") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    auto r = client.call(get(sim.url("/reset")));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::no_response);
    CHECK(sim.handler.calls == 1);
}

TEST_CASE("https: a truncated body is an error, never a success") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    std::uint64_t sunk = 0;
    Request r = get(sim.url("/truncate"));
    r.sink = [&](std::string_view chunk) -> lrsched::Result<void> {
        sunk += chunk.size();
        return lrsched::ok();
    };
    auto res = client.call(std::move(r));
    REQUIRE_FALSE(res);
    // The RST may overtake the last bytes; either way the answer is incomplete.
    const bool cut =
        res.error().code == Errc::response_truncated || res.error().code == Errc::no_response;
    CHECK(cut);
    CHECK(sunk <= 1'000);  // never more than the server sent
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("https: a closed port is connect_failed, and nothing was sent") {
    SyncHttpsClient client(ClientOptions{});
    // Port 1 on loopback: nothing listens there in a test environment.
    auto r = client.call(get("https://127.0.0.1:1/x"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::connect_failed);
}

TEST_CASE("https: bad URLs and a missing body_limit are refused before connecting") {
    SyncHttpsClient client(ClientOptions{});
    auto plain = client.call(get("http://127.0.0.1:1/x"));
    REQUIRE_FALSE(plain);
    CHECK(plain.error().code == Errc::invalid_input);
    auto no_limit = client.call(get("https://127.0.0.1:1/x", 0));
    REQUIRE_FALSE(no_limit);
    CHECK(no_limit.error().code == Errc::invalid_input);
    CHECK(no_limit.error().message.find("body_limit") != std::string::npos);
}

TEST_CASE("https: error messages carry neither header values nor the query string") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    Request r = get(sim.url("/reset?sig=SECRETSIG"));
    r.headers.emplace_back("Authorization", "Bearer SECRETTOKEN");
    auto res = client.call(std::move(r));
    REQUIRE_FALSE(res);
    CHECK(res.error().message.find("/reset") != std::string::npos);
    CHECK(res.error().message.find("SECRET") == std::string::npos);
}
