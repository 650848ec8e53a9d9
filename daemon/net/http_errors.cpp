// Deadline arithmetic and the mapping of Asio/Beast/OpenSSL error codes onto
// lrsched's Errc with operator-readable messages. Only the small error
// headers of Asio and Beast are included here, not net.hpp.
#include "net/http_errors.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

namespace lrsched::net {
namespace {

std::string ms(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + "ms";
}

}  // namespace

std::optional<PhaseBudget> Deadline::budget(std::chrono::milliseconds phase) const {
    const auto remaining = end - std::chrono::steady_clock::now();
    if (remaining <= std::chrono::steady_clock::duration::zero()) return std::nullopt;
    if (remaining < phase) return PhaseBudget{remaining, true, timeouts.total};
    return PhaseBudget{phase, false, phase};
}

Error Deadline::expired(const std::string& what, std::string_view phase) const {
    return Error(Errc::timeout, what + ": timed out: the total deadline of " + ms(timeouts.total) +
                                    " passed before " + std::string(phase));
}

Error timeout_error(const std::string& what, std::string_view phase, const PhaseBudget& budget) {
    std::string msg = what + ": timed out ";
    if (budget.bounded_by_total) {
        msg += "(total deadline of " + ms(budget.limit) + ") while " + std::string(phase);
    } else {
        msg += "while " + std::string(phase) + " (limit " + ms(budget.limit) + ")";
    }
    if (phase == "waiting for the response") {
        msg += "; no response byte was received, the request may or may not have been processed";
    }
    return Error(Errc::timeout, std::move(msg));
}

bool is_connection_loss(const boost::system::error_code& ec) {
    namespace aerr = boost::asio::error;
    using herr = boost::beast::http::error;
    return ec == aerr::eof || ec == aerr::connection_reset || ec == aerr::broken_pipe ||
           ec == aerr::connection_aborted || ec == herr::end_of_stream ||
           ec == herr::partial_message || ec == boost::asio::ssl::error::stream_truncated;
}

Error lost_before_response(const std::string& what,
                           std::string_view phase,
                           const boost::system::error_code& ec) {
    return Error(Errc::no_response, what + ": connection lost while " + std::string(phase) +
                                        ", before any response byte was received (" + ec.message() +
                                        "); the request may or may not have been processed");
}

Error read_failure(const std::string& what,
                   const boost::system::error_code& ec,
                   std::uint64_t body_bytes,
                   std::uint64_t body_limit) {
    using herr = boost::beast::http::error;
    if (ec == herr::body_limit) {
        return Error(Errc::limit_exceeded, what + ": response body larger than the limit of " +
                                               std::to_string(body_limit) + " bytes");
    }
    if (ec == herr::header_limit) {
        return Error(Errc::limit_exceeded, what + ": response header too large");
    }
    if (is_connection_loss(ec)) {
        return Error(Errc::response_truncated,
                     what + ": connection lost in the middle of the response, after " +
                         std::to_string(body_bytes) + " body bytes (" + ec.message() + ")");
    }
    if (ec.category() == boost::beast::http::make_error_code(herr::bad_version).category()) {
        return Error(Errc::protocol_error, what + ": malformed HTTP response: " + ec.message());
    }
    return Error(Errc::response_truncated, what + ": response failed after " +
                                               std::to_string(body_bytes) +
                                               " body bytes: " + ec.message());
}

}  // namespace lrsched::net
