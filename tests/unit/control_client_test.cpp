// The CLI's control client (control/client.hpp) against what is not a
// healthy daemon: no socket, a regular file, a server that answers
// garbage, too much, too little, or nothing. Servers here are scripted
// POSIX sockets (support/raw_socket.hpp); the round trip with the real
// transport is in control_server_test.cpp.
#include "control/client.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::Errc;
using lrsched::control::ClientLimits;
using lrsched::control::request;
using lrsched::test::ScriptedServer;
using lrsched::test::TempDir;

namespace {

// Reads the request's head, then writes `answer` and closes.
std::function<void(int)> answer_with(std::string answer) {
    return [answer = std::move(answer)](int fd) {
        (void)lrsched::test::read_head(fd);
        (void)lrsched::test::send_all(fd, answer);
    };
}

}  // namespace

TEST_CASE("no daemon at the socket path: connect_failed, for a missing path or a regular file") {
    TempDir dir;
    auto missing = request((dir.path() / "nothing.sock").string(), "GET", "/v1/status");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::connect_failed);
    CHECK(missing.error().message.find("nothing.sock") != std::string::npos);

    const auto file = dir.write("file.sock", "plain file\n");
    auto regular = request(file.string(), "GET", "/v1/status");
    REQUIRE_FALSE(regular);
    CHECK(regular.error().code == Errc::connect_failed);
}

TEST_CASE(
    "the client reads status, content type and a Content-Length body, without waiting for EOF") {
    TempDir dir;
    const auto path = (dir.path() / "s.sock").string();
    std::string seen;
    {
        // The script holds the connection open after its answer: the
        // client must stop at Content-Length, and the script then sees it go.
        ScriptedServer server(path, [&seen](int fd) {
            seen = lrsched::test::read_head(fd);
            (void)lrsched::test::send_all(
                fd,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                "Content-Length: 21\r\n\r\n{\"error\":\"no such j\"}");
            (void)lrsched::test::read_until_closed(fd);
        });
        auto r = request(path, "GET", "/v1/jobs/x");
        REQUIRE(r);
        CHECK(r->status == 404);
        CHECK(r->content_type == "application/json");
        CHECK(r->body == R"({"error":"no such j"})");
    }
    CHECK(seen.rfind("GET /v1/jobs/x HTTP/1.1\r\n", 0) == 0);
    CHECK(seen.find("Connection: close\r\n") != std::string::npos);
    CHECK(seen.find("Content-Length: 0\r\n") != std::string::npos);
}

TEST_CASE("an answer that is not HTTP/1.1 is a protocol_error") {
    TempDir dir;
    const auto path = (dir.path() / "s.sock").string();
    for (const char* garbage :
         {"garbage\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n",
          "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ""}) {
        CAPTURE(garbage);
        ScriptedServer server(path, answer_with(garbage));
        auto r = request(path, "GET", "/v1/status");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::protocol_error);
        std::filesystem::remove(path);
    }
}

TEST_CASE("an answer past max_response_bytes is limit_exceeded, announced or streamed") {
    TempDir dir;
    const auto path = (dir.path() / "s.sock").string();
    ClientLimits limits;
    limits.max_response_bytes = 1000;
    {
        ScriptedServer server(path,
                              answer_with("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"));
        auto r = request(path, "GET", "/metrics", {}, limits);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::limit_exceeded);
    }
    std::filesystem::remove(path);
    {
        ScriptedServer server(path,
                              answer_with("HTTP/1.1 200 OK\r\n\r\n" + std::string(5000, 'x')));
        auto r = request(path, "GET", "/metrics", {}, limits);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::limit_exceeded);
    }
}

TEST_CASE("a daemon that never answers is a timeout") {
    TempDir dir;
    const auto path = (dir.path() / "s.sock").string();
    ClientLimits limits;
    limits.timeout = std::chrono::milliseconds(200);
    // The script waits until the client gives up and closes.
    ScriptedServer server(path, [](int fd) { (void)lrsched::test::read_until_closed(fd); });
    auto r = request(path, "GET", "/v1/status", {}, limits);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::timeout);
}

TEST_CASE("a request line with spaces or control characters is refused before connecting") {
    TempDir dir;
    const auto path = (dir.path() / "none.sock").string();
    for (const auto& [method, target] : std::initializer_list<std::pair<const char*, const char*>>{
             {"GET", "/a b"}, {"GET", "/a\r\nX: y"}, {"G T", "/"}, {"GET", "relative"}}) {
        auto r = request(path, method, target);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_input);
    }
}
