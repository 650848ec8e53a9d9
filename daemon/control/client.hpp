// The CLI's client of the control API: one HTTP/1.1 request over the Unix
// socket of `control.socket`, read with plain POSIX calls and a small
// bounded response parser (no Asio/Beast: the CLI stays quick to build and
// start). Expected load: one request per command.
#pragma once

#include "common/http_message.hpp"
#include "common/result.hpp"

#include <chrono>
#include <string>

namespace lrsched::control {

struct ClientLimits {
    std::chrono::milliseconds timeout{60'000};   // the whole exchange (plan may take a while)
    std::size_t max_response_bytes = 64u << 20;  // headers and body
};

// Sends `method target` with `body` (JSON when not empty) and reads the
// whole response (the server closes the connection after it).
// Errors: Errc::connect_failed when no daemon listens at `socket_path`
// (missing file, refused connection, not a socket), Errc::permission_denied
// when the socket's permissions or the daemon's peer check refuse us,
// Errc::timeout, Errc::protocol_error for an answer that is not HTTP/1.1,
// Errc::limit_exceeded past max_response_bytes.
Result<HttpResponse> request(const std::string& socket_path,
                             const std::string& method,
                             const std::string& target,
                             const std::string& body = {},
                             const ClientLimits& limits = {});

}  // namespace lrsched::control
