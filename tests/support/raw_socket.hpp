// Plain POSIX sockets for the transport tests: a client that can send half
// a request and stall, a one-connection server that answers whatever a
// test scripts, and a datagram receiver for sd_notify. Every wait is
// bounded by a hang detector (a bound far beyond any normal answer), never
// a timing assertion.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace lrsched::test {

inline constexpr std::chrono::milliseconds kHangBound{20'000};

// An owned descriptor.
class RawFd {
  public:
    RawFd() = default;
    explicit RawFd(int fd) : fd_(fd) {}
    ~RawFd();
    RawFd(RawFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    RawFd& operator=(RawFd&& other) noexcept;
    int get() const noexcept { return fd_; }
    void reset();

  private:
    int fd_ = -1;
};

// Connects a stream socket to `path`; throws on failure.
RawFd unix_connect(const std::string& path);
// Connects a TCP socket to 127.0.0.1:`port`; throws on failure.
RawFd tcp_connect(unsigned short port);
// Writes all of `data`; false when the peer is gone.
bool send_all(int fd, std::string_view data);

struct ReadResult {
    std::string data;
    bool closed = false;  // EOF or reset seen (not the hang bound)
};
// Reads until the peer closes, or kHangBound passes (closed stays false).
ReadResult read_until_closed(int fd);
// Reads until "\r\n\r\n" has arrived (a request's head), EOF, or the bound.
std::string read_head(int fd);

// A Unix socket bound and listening at `path`, whose first accepted
// connection is handed to `script` on a thread; joined on destruction.
class ScriptedServer {
  public:
    ScriptedServer(const std::string& path, std::function<void(int fd)> script);
    ~ScriptedServer();
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

  private:
    RawFd listener_;
    std::thread thread_;
};

// A datagram socket bound to `name` ("/path" or "@abstract").
RawFd bind_datagram(const std::string& name);
// One datagram, or "" when none came within kHangBound.
std::string receive_datagram(int fd);

}  // namespace lrsched::test
