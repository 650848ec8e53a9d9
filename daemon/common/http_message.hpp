// One request to the control API and its answer (SPEC §6), as plain data:
// the transport (net/control_server.hpp) fills a Request and writes the
// Response, the routes (control/routes.hpp) turn one into the other
// without a socket, and the CLI's client (control/client.hpp) reads
// Responses. No Asio here, so every folder may include it.
// Expected load: one per client command or metrics scrape.
#pragma once

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace lrsched {

// Who is asking. On the Unix socket the kernel's peer credentials
// (SO_PEERCRED), already checked against the socket's policy by the
// transport; on the loopback TCP listener of `metrics.listen` nobody in
// particular, so only the read-only routes answer there.
struct HttpPeer {
    enum class Via { unix_socket, tcp } via = Via::unix_socket;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    pid_t pid = 0;
};

struct HttpRequest {
    std::string method;  // "GET", "POST", ...
    std::string target;  // origin form: path and optional "?query", as sent
    std::string body;    // at most the transport's body cap
    std::string host;    // the Host header, as sent (empty when none)
    HttpPeer peer;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    // Further headers the transport writes as they are (ours, never a
    // request's): Allow on a 405.
    std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace lrsched
