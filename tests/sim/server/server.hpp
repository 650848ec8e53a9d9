// lrsched-sim's HTTPS transport: a Beast server on 127.0.0.1 that turns each
// request into a call of Handler::handle (sim_http.hpp) and enacts what the
// answer asks for: a delay, a reset, a cut body, a streamed download. Expected
// load: one test client or one lrsched daemon, tens of connections, request
// bodies up to the 20 MB library upload cap, downloads of hundreds of MB
// streamed with flat memory.
//
// No Asio in this header: the simulator's main and the tests include it cheaply.
#pragma once

#include "common/result.hpp"
#include "sim/sim_http.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace lrsched::sim {

struct ServerOptions {
    std::uint16_t port = 0;  // 0: any free port, reported in ReadyInfo
    // Certificates: either all three files, or none and a state_dir into which
    // a throwaway CA and server certificate are generated (cert.hpp).
    std::string state_dir;
    std::string cert_file;    // server certificate chain (PEM)
    std::string key_file;     // its private key (PEM)
    std::string ca_file;      // the CA clients should trust, reported in ReadyInfo
    bool wrong_host = false;  // generate a certificate for wrong.example only

    std::uint64_t max_request_body = 32ull << 20;  // library uploads are capped at 20 MB
    std::uint32_t max_request_header = 64u << 10;
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds read_timeout{60'000};   // each read, keep-alive idle time included
    std::chrono::milliseconds write_timeout{60'000};  // each write of a chunk
};

struct ReadyInfo {
    std::uint16_t port = 0;
    std::string base;  // https://127.0.0.1:PORT
    std::string ca_file;
};

struct ServerStats {
    std::uint64_t connections = 0;  // TCP connections accepted
    std::uint64_t handshakes = 0;   // TLS handshakes completed
    std::uint64_t requests = 0;     // requests passed to the handler
};

class Server {
  public:
    static constexpr std::size_t kChunkSize = 64 * 1024;  // streamed body pieces

    // Loads or generates the certificates and binds the port; serves nothing
    // until run(). `handler` must outlive the server.
    static Result<std::unique_ptr<Server>> create(const ServerOptions& options, Handler& handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    const ReadyInfo& ready() const noexcept;

    // From now on SIGTERM and SIGINT stop the server. Call before anyone may
    // send them (before announcing readiness), and before run().
    void stop_on_signals();

    // Serves on the calling thread until stop() (or a signal, see above).
    // The handler is called on this thread only.
    void run();

    // From any thread: stop accepting, close every connection, let run()
    // return. In-flight answers are cut.
    void stop();

    // From any thread but run()'s: close every open connection at once, as a
    // server's keep-alive idle timeout would, and wait until that is done.
    void drop_connections();

    ServerStats stats() const noexcept;  // from any thread

    struct Impl;

  private:
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The simulator's entry point: creates the server, calls on_ready once it
// listens, and serves until SIGTERM or SIGINT. Returns the exit status.
Result<int> run_server(const ServerOptions& options,
                       Handler& handler,
                       const std::function<void(const ReadyInfo&)>& on_ready);

}  // namespace lrsched::sim
