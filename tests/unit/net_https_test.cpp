// The daemon's HTTPS client against lrsched-sim's transport over real
// loopback TLS: round trips, keep-alive, certificate and host-name checks,
// body limits, streamed downloads, deadlines (support/sim_fixture.hpp).
#include "support/https_sync.hpp"
#include "support/sim_fixture.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::Errc;
using lrsched::net::ClientOptions;
using lrsched::net::HttpsClient;
using lrsched::net::Request;
using lrsched::test::get;
using lrsched::test::kBigSize;
using lrsched::test::pattern_sha256;
using lrsched::test::post;
using lrsched::test::Sha256;
using lrsched::test::Sim;
using lrsched::test::SyncHttpsClient;
using lrsched::test::unwrap;

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

TEST_CASE("tls: the test CA given as ca_file is trusted, without it nothing reaches the handler") {
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

TEST_CASE("https: an error answer's body is kept as its message, never given to the sink") {
    Sim sim;
    SyncHttpsClient client(sim.trusting());
    Request r = get(sim.url("/nothing-here"));
    int sunk = 0;
    r.sink = [&](std::string_view) -> lrsched::Result<void> {
        ++sunk;
        return lrsched::ok();
    };
    const auto res = unwrap(client.call(std::move(r)));
    CHECK(res.status == 404);
    CHECK(sunk == 0);
    CHECK(res.body == "no such path");
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
