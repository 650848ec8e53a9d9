// The daemon's HTTPS client when connections fail: resets, pooled
// connections the server closed (a GET retried once, a POST never), cut
// bodies, refused input, and what error messages may not contain.
#include "support/https_sync.hpp"
#include "support/sim_fixture.hpp"

#include <doctest/doctest.h>

#include <string>
#include <sys/resource.h>
#include <thread>

using lrsched::Errc;
using lrsched::net::ClientOptions;
using lrsched::net::HttpsClient;
using lrsched::net::Request;
using lrsched::test::get;
using lrsched::test::post;
using lrsched::test::Sim;
using lrsched::test::SyncHttpsClient;
using lrsched::test::unwrap;

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

TEST_CASE(
    "https: bad URLs, methods, headers and a missing body_limit are refused before connecting") {
    SyncHttpsClient client(ClientOptions{});
    auto plain = client.call(get("http://127.0.0.1:1/x"));
    REQUIRE_FALSE(plain);
    CHECK(plain.error().code == Errc::invalid_input);
    auto no_limit = client.call(get("https://127.0.0.1:1/x", 0));
    REQUIRE_FALSE(no_limit);
    CHECK(no_limit.error().code == Errc::invalid_input);
    CHECK(no_limit.error().message.find("body_limit") != std::string::npos);
    Request odd = get("https://127.0.0.1:1/x");
    odd.method = "FETCH";
    CHECK(client.call(odd).error().code == Errc::invalid_input);
    Request injected = get("https://127.0.0.1:1/x");
    injected.headers.emplace_back("Authorization", "Bearer x\r\nX-Evil: 1");
    auto inj = client.call(injected);
    REQUIRE_FALSE(inj);
    CHECK(inj.error().code == Errc::invalid_input);
    CHECK(inj.error().message.find("Evil") == std::string::npos);
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

namespace {

// Answers every request with `status` and a streamed body of `size` bytes,
// as a storage front end might for an expired link or a failure.
class HugeErrorHandler final : public lrsched::sim::Handler {
  public:
    HugeErrorHandler(int status, std::uint64_t size) : status_(status), size_(size) {}
    lrsched::sim::HttpResponse handle(const lrsched::sim::HttpRequest&, double) override {
        lrsched::sim::HttpResponse res;
        res.status = status_;
        res.stream = std::make_unique<lrsched::test::PatternSource>(size_);
        return res;
    }

  private:
    int status_;
    std::uint64_t size_;
};

// Runs one download against a HugeErrorHandler; the client's answer.
lrsched::Result<lrsched::net::Response> download_error(int status,
                                                       std::uint64_t size,
                                                       std::uint64_t* sunk,
                                                       std::size_t* idle_after) {
    lrsched::test::TempDir dir;
    lrsched::sim::ServerOptions o;
    o.state_dir = (dir.path() / "sim").string();
    HugeErrorHandler handler(status, size);
    auto server = unwrap(lrsched::sim::Server::create(o, handler));
    std::thread serving([s = server.get()] { s->run(); });
    SyncHttpsClient client({server->ready().ca_file, "lrsched-test"});
    Request r = get(server->ready().base + "/blob", 4ull << 30);  // the download cap
    r.sink = [sunk](std::string_view chunk) -> lrsched::Result<void> {
        *sunk += chunk.size();
        return lrsched::ok();
    };
    auto res = client.call(std::move(r));
    *idle_after = client.idle_connections();
    server->stop();
    serving.join();
    return res;
}

}  // namespace

TEST_CASE("https: a download's error body is kept to a short prefix, the rest never read") {
    constexpr std::uint64_t kBody = 256ull << 20;  // far beyond any message worth keeping
    for (const int status : {403, 500}) {
        CAPTURE(status);
        std::uint64_t sunk = 0;
        std::size_t idle = 0;
        auto res = download_error(status, kBody, &sunk, &idle);
        REQUIRE(res.ok());
        CHECK(res->status == status);
        CHECK(sunk == 0);                                           // an error is not the payload
        CHECK(res->body.size() == lrsched::net::kErrorBodyPrefix);  // the message's prefix only
        CHECK(res->body_bytes < kBody / 4);                         // stopped reading early
        CHECK(res->body_cut);
        CHECK(idle == 0);  // the rest of the body was left unread: not reusable
    }
}

TEST_CASE("https: a download's error body of exactly the prefix is kept whole, not cut") {
    std::uint64_t sunk = 0;
    std::size_t idle = 0;
    auto res = download_error(404, lrsched::net::kErrorBodyPrefix, &sunk, &idle);
    REQUIRE(res.ok());
    CHECK(res->status == 404);
    CHECK(res->body.size() == lrsched::net::kErrorBodyPrefix);
    CHECK_FALSE(res->body_cut);
    CHECK(sunk == 0);
    CHECK(idle == 1);  // read to its end: the connection is reusable
}
