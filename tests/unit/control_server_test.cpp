// The control API's transport (net/control_server.hpp) on real sockets in a
// temp dir, its io_context on a thread: round trips through the CLI's
// client, the socket file's mode and life (stale replaced, live kept, a
// regular file left alone), the peer check, and each bound (body, header,
// deadline, connections). The deadline test asserts that a stalled client
// is cut, never how long that took.
#include "net/control_server.hpp"

#include "control/client.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/this_coro.hpp>
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace asio = boost::asio;
using lrsched::Errc;
using lrsched::HttpRequest;
using lrsched::HttpResponse;
using lrsched::net::ControlServer;
using lrsched::net::ServerLimits;
using lrsched::test::TempDir;

namespace {

asio::awaitable<HttpResponse> echo(HttpRequest req) {
    std::string via = req.peer.via == lrsched::HttpPeer::Via::tcp ? "tcp" : "unix";
    co_return HttpResponse{200,
                           "text/plain",
                           req.method + " " + req.target + " [" + req.body + "] " + via +
                               " uid=" + std::to_string(req.peer.uid),
                           {}};
}

// Answers after 5 times the deadline of the test that uses it: the
// daemon's own work (plan's listings) is not the peer's time.
asio::awaitable<HttpResponse> slow(HttpRequest req) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(500));
    co_await t.async_wait(asio::use_awaitable);
    co_return co_await echo(std::move(req));
}

asio::awaitable<HttpResponse> odd_status(HttpRequest) {
    co_return HttpResponse{1234, "text/plain", "?", {}};
}

asio::awaitable<HttpResponse> boom(HttpRequest) {
    throw std::runtime_error("the handler broke");
    co_return HttpResponse{};
}

// A server listening on `dir/control.sock`, its io_context run on a thread
// once start() is called; stopped and joined on destruction.
struct Served {
    asio::io_context io;
    std::unique_ptr<ControlServer> server;
    std::thread thread;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

    void start() {
        work.emplace(io.get_executor());
        thread = std::thread([this] { io.run(); });
    }
    ~Served() {
        if (thread.joinable()) {
            io.stop();
            thread.join();
        }
        server.reset();
    }
};

std::string socket_path(const TempDir& dir) {
    return (dir.path() / "run" / "control.sock").string();
}

std::unique_ptr<ControlServer> listen_or_fail(Served& s,
                                              const std::string& path,
                                              unsigned mode = 0660,
                                              lrsched::net::Handler h = echo,
                                              ServerLimits limits = {}) {
    auto r = ControlServer::listen_unix(s.io, path, mode, std::move(h), limits);
    if (!r) FAIL(r.error().message);
    return std::move(r).value();
}

unsigned file_mode(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    return st.st_mode & 07777;
}

// A socket file with nothing listening: what a daemon killed with SIGKILL leaves.
void leave_stale_socket(const std::string& path) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    lrsched::test::RawFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
}

}  // namespace

TEST_CASE("a request and its answer cross the Unix socket through the CLI's client") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    s.server = listen_or_fail(s, path);
    s.start();

    auto get = lrsched::control::request(path, "GET", "/v1/status?job=a");
    REQUIRE(get);
    CHECK(get->status == 200);
    CHECK(get->content_type == "text/plain");
    CHECK(get->body == "GET /v1/status?job=a [] unix uid=" + std::to_string(::geteuid()));

    auto post = lrsched::control::request(path, "POST", "/v1/jobs/x/run", R"({"why":"test"})");
    REQUIRE(post);
    CHECK(post->body.find(R"(POST /v1/jobs/x/run [{"why":"test"}])") == 0);
}

TEST_CASE("the socket gets exactly the mode asked, and a mode open to others is refused") {
    TempDir dir;
    const auto path = socket_path(dir);
    for (unsigned mode : {0600u, 0660u}) {
        Served s;
        s.server = listen_or_fail(s, path, mode);
        CHECK(file_mode(path) == mode);
        // The folder made for it is not open to others either.
        struct stat st {};
        REQUIRE(::stat(std::filesystem::path(path).parent_path().c_str(), &st) == 0);
        CHECK((st.st_mode & 0007) == 0);
    }
    for (unsigned mode : {0666u, 0604u, 0661u, 04660u}) {
        Served s;
        auto r = ControlServer::listen_unix(s.io, path, mode, echo);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_input);
        CHECK(r.error().message.find("control.mode") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path)));
    }
}

TEST_CASE("a stale socket file is replaced and a live one is never taken") {
    TempDir dir;
    const auto path = socket_path(dir);
    leave_stale_socket(path);
    Served first;
    first.server = listen_or_fail(first, path);

    Served second;
    auto r = ControlServer::listen_unix(second.io, path, 0660, echo);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::permission_denied);
    CHECK(r.error().message.find("another process answers on") != std::string::npos);

    // The refused second server did not disturb the first.
    first.start();
    auto answer = lrsched::control::request(path, "GET", "/v1/status");
    REQUIRE(answer);
    CHECK(answer->status == 200);
}

TEST_CASE("a regular file or a folder at the socket's path is refused and left alone") {
    TempDir dir;
    const auto file = dir.write("run/control.sock", "not a socket\n");
    Served s;
    auto r = ControlServer::listen_unix(s.io, file.string(), 0660, echo);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_input);
    std::ifstream in(file);
    std::stringstream content;
    content << in.rdbuf();
    CHECK(content.str() == "not a socket\n");

    const auto folder = dir.path() / "a-folder";
    std::filesystem::create_directories(folder);
    auto f = ControlServer::listen_unix(s.io, folder.string(), 0660, echo);
    REQUIRE_FALSE(f);
    CHECK(f.error().code == Errc::invalid_input);
    CHECK(std::filesystem::is_directory(folder));
}

TEST_CASE("close removes the socket file only while it is still the one it bound") {
    TempDir dir;
    const auto path = socket_path(dir);
    {
        Served s;
        s.server = listen_or_fail(s, path);
        s.server->close();
        CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path)));
    }
    {
        Served s;
        s.server = listen_or_fail(s, path);
        // Someone replaced it meanwhile: not ours to remove.
        std::filesystem::remove(path);
        dir.write("run/control.sock", "someone else's\n");
        s.server->close();
        CHECK(std::filesystem::exists(path));
    }
}

TEST_CASE("a body over the cap is answered 413, a header over the cap 431") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    ServerLimits limits;
    limits.max_body_bytes = 64;
    limits.max_header_bytes = 1024;
    s.server = listen_or_fail(s, path, 0660, echo, limits);
    s.start();

    auto big_body = lrsched::control::request(path, "POST", "/v1/reload", std::string(65, 'x'));
    REQUIRE(big_body);
    CHECK(big_body->status == 413);
    CHECK(big_body->body == R"({"error":"request body too large"})");

    auto fits = lrsched::control::request(path, "POST", "/v1/reload", std::string(64, 'x'));
    REQUIRE(fits);
    CHECK(fits->status == 200);

    auto big_head = lrsched::control::request(path, "GET", "/v1/" + std::string(2000, 'a'));
    REQUIRE(big_head);
    CHECK(big_head->status == 431);
}

TEST_CASE(
    "a malformed request is answered 400, and a handler that throws or gives no valid status 500") {
    TempDir dir;
    const auto path = socket_path(dir);
    {
        Served s;
        s.server = listen_or_fail(s, path);
        s.start();
        auto fd = lrsched::test::unix_connect(path);
        REQUIRE(lrsched::test::send_all(fd.get(), "GET / HTTP/9.9 nonsense\r\n\r\n"));
        auto got = lrsched::test::read_until_closed(fd.get());
        CHECK(got.closed);
        CHECK(got.data.rfind("HTTP/1.1 400 ", 0) == 0);
    }
    {
        Served s;
        s.server = listen_or_fail(s, path, 0660, boom);
        s.start();
        auto answer = lrsched::control::request(path, "GET", "/v1/status");
        REQUIRE(answer);
        CHECK(answer->status == 500);
        CHECK(answer->body == R"({"error":"internal error"})");
    }
    {
        Served s;
        s.server = listen_or_fail(s, path, 0660, odd_status);
        s.start();
        auto answer = lrsched::control::request(path, "GET", "/v1/status");
        REQUIRE(answer);
        CHECK(answer->status == 500);
    }
}

TEST_CASE("a client that sends half a request and stalls is cut at the deadline") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    ServerLimits limits;
    limits.deadline = std::chrono::milliseconds(200);
    s.server = listen_or_fail(s, path, 0660, echo, limits);
    s.start();

    auto fd = lrsched::test::unix_connect(path);
    REQUIRE(lrsched::test::send_all(fd.get(), "GET /v1/status HTTP/1.1\r\nHost: x"));
    const auto got = lrsched::test::read_until_closed(fd.get());
    CHECK(got.closed);  // by the server, not by the test's hang bound
    CHECK(got.data.empty());
}

TEST_CASE("a handler slower than the deadline still gets its answer to the client") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    ServerLimits limits;
    limits.deadline = std::chrono::milliseconds(100);
    s.server = listen_or_fail(s, path, 0660, slow, limits);
    s.start();
    auto fd = lrsched::test::unix_connect(path);
    REQUIRE(
        lrsched::test::send_all(fd.get(), "GET /v1/jobs/sweep/plan HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto got = lrsched::test::read_until_closed(fd.get());
    CHECK(got.data.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(got.data.find("GET /v1/jobs/sweep/plan") != std::string::npos);
}

TEST_CASE("connections past the cap are refused with 503 while the others are served") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    ServerLimits limits;
    limits.max_connections = 1;
    s.server = listen_or_fail(s, path, 0660, echo, limits);
    s.start();

    // Accepted first (the kernel queues connections in order), it holds the one slot.
    auto holder = lrsched::test::unix_connect(path);
    auto refused = lrsched::control::request(path, "GET", "/v1/status");
    REQUIRE(refused);
    CHECK(refused->status == 503);

    REQUIRE(lrsched::test::send_all(holder.get(), "GET /held HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto held = lrsched::test::read_until_closed(holder.get());
    CHECK(held.data.find("GET /held []") != std::string::npos);

    // The slot was freed before the answer's end reached the holder.
    auto after = lrsched::control::request(path, "GET", "/v1/status");
    REQUIRE(after);
    CHECK(after->status == 200);
}

TEST_CASE("peer_allowed: root, the daemon's user, and members of the socket's group") {
    using lrsched::net::peer_allowed;
    const uid_t daemon = 990;
    const gid_t group = 985;
    CHECK(peer_allowed(0, 0, {}, daemon, group));                     // root
    CHECK(peer_allowed(daemon, 990, {}, daemon, group));              // the daemon's user
    CHECK(peer_allowed(1000, group, {}, daemon, group));              // primary group
    CHECK(peer_allowed(1000, 1000, {27, group}, daemon, group));      // supplementary group
    CHECK_FALSE(peer_allowed(1000, 1000, {27, 100}, daemon, group));  // a stranger
    CHECK_FALSE(peer_allowed(65534, 65534, {}, daemon, group));
}

TEST_CASE("a user the peer check refuses gets 403 even when the file's mode lets it in") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: needs root to run a client as another user");
        return;
    }
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    s.server = listen_or_fail(s, path, 0660);
    // Someone widened the file and its folder by hand: the peer check still holds.
    REQUIRE(::chmod(path.c_str(), 0666) == 0);
    REQUIRE(::chmod(std::filesystem::path(path).parent_path().c_str(), 0755) == 0);
    REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);

    // Forked before the io thread starts: the child is a single thread.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(10);
        auto r = lrsched::control::request(path, "GET", "/v1/status");
        if (!r) _exit(11);
        if (r->status != 403) _exit(12);
        if (r->body.find("\"error\"") == std::string::npos) _exit(13);
        _exit(0);
    }
    s.start();
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);

    // Root still gets through.
    auto root = lrsched::control::request(path, "GET", "/v1/status");
    REQUIRE(root);
    CHECK(root->status == 200);
}

TEST_CASE("listen_tcp binds loopback addresses only") {
    asio::io_context io;
    for (const char* bad : {"0.0.0.0:0", "10.0.0.1:0", "[::]:0", "::1:0", "127.0.0.1",
                            "127.0.0.1:x", "127.0.0.1:70000", "example.org:80"}) {
        auto r = ControlServer::listen_tcp(io, bad, echo);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_input);
    }

    Served s;
    auto r = ControlServer::listen_tcp(s.io, "127.0.0.1:0", echo);
    REQUIRE(r);
    s.server = std::move(r).value();
    REQUIRE(s.server->port() != 0);
    s.start();
    auto fd = lrsched::test::tcp_connect(s.server->port());
    REQUIRE(lrsched::test::send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto got = lrsched::test::read_until_closed(fd.get());
    CHECK(got.closed);
    CHECK(got.data.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(got.data.find("Content-Length: ") != std::string::npos);
    CHECK(got.data.find("GET /metrics [] tcp") != std::string::npos);
}

TEST_CASE("a client that expects 100-continue is told to go on before it sends the body") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    s.server = listen_or_fail(s, path);
    s.start();

    auto fd = lrsched::test::unix_connect(path);
    REQUIRE(lrsched::test::send_all(fd.get(),
                                    "POST /v1/reload HTTP/1.1\r\nHost: x\r\n"
                                    "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    CHECK(lrsched::test::read_head(fd.get()).rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
    REQUIRE(lrsched::test::send_all(fd.get(), "hello"));
    const auto got = lrsched::test::read_until_closed(fd.get());
    CHECK(got.data.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(got.data.find("POST /v1/reload [hello]") != std::string::npos);
}

TEST_CASE("the routes' own headers reach the wire: Allow on a 405") {
    TempDir dir;
    Served s;
    const auto path = socket_path(dir);
    const lrsched::net::Handler refuse = [](HttpRequest) -> asio::awaitable<HttpResponse> {
        co_return HttpResponse{
            405, "application/json", "{\"error\":\"use GET\"}", {{"Allow", "GET"}}};
    };
    s.server = listen_or_fail(s, path, 0660, refuse);
    s.start();

    auto fd = lrsched::test::unix_connect(path);
    REQUIRE(lrsched::test::send_all(
        fd.get(), "POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
    const auto got = lrsched::test::read_until_closed(fd.get());
    CHECK(got.data.rfind("HTTP/1.1 405 ", 0) == 0);
    CHECK(got.data.find("\r\nAllow: GET\r\n") != std::string::npos);
}
