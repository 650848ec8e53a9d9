// The one error currency of lrsched: std::error_code with our own category,
// plus a short human message carried by Result<T> (result.hpp). Asio's and
// SQLite's failures are mapped onto these codes where they are handled.
#pragma once

#include <string>
#include <system_error>

namespace lrsched {

enum class Errc {
    ok = 0,
    invalid_input,       // a file or value the operator wrote is wrong
    limit_exceeded,      // input larger or deeper than a documented cap
    io_error,            // the file system said no
    permission_denied,   // a secret file readable by others, a path outside its root
    not_found,           // a file, job, run or session that does not exist
    database_error,      // SQLite said no
    schema_mismatch,     // the database is newer than this binary
    illegal_transition,  // a session state change the state machine forbids (a bug)
    // Network outcomes of an HTTPS call (net/https_client.hpp). They differ in
    // what the caller may assume about a request that changes state (a submit):
    connect_failed,      // no connection: the request was certainly not sent
    tls_error,           // handshake or certificate failure: not sent either
    timeout,             // a deadline passed; the message names the phase
    no_response,         // sent (perhaps), connection lost before any response byte
    response_truncated,  // connection lost in the middle of a response
    protocol_error,      // the peer did not speak HTTP/1.1 as expected
    // Outcomes above the transport:
    server_error,    // the server answered, but with a failure status or an answer we cannot use
    cancelled,       // the daemon is stopping: the work was abandoned on purpose
    internal_error,  // a bug: an exception escaped where none was expected
};

const std::error_category& lrsched_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), lrsched_category()};
}

}  // namespace lrsched

template <>
struct std::is_error_code_enum<lrsched::Errc> : std::true_type {};
