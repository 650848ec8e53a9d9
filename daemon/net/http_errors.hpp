// Deadlines and failure messages of one HTTPS call: how much time a phase may
// take under its own timeout and the call's total deadline, and which Errc and
// message a failure becomes. The messages say whether any response byte
// arrived, because the caller's exactly-once logic depends on it: a submit
// that got nothing back may still have been processed.
#pragma once

#include "common/result.hpp"
#include "net/https_client.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched::net {

struct PhaseBudget {
    std::chrono::steady_clock::duration time;  // for expires_after
    bool bounded_by_total = false;             // the total deadline, not the phase's own, ends it
    std::chrono::milliseconds limit;           // the limit to name in a message
};

struct Deadline {
    std::chrono::steady_clock::time_point end;
    Timeouts timeouts;

    // The time the next phase may take, or nullopt when the total has passed.
    std::optional<PhaseBudget> budget(std::chrono::milliseconds phase) const;
    // The total deadline passed before `phase` could start.
    Error expired(const std::string& what, std::string_view phase) const;
};

Error timeout_error(const std::string& what, std::string_view phase, const PhaseBudget& budget);

// The peer closed or reset the connection (or the TLS stream was cut).
bool is_connection_loss(const boost::system::error_code& ec);

// Errc::no_response: nothing came back; the request may have been processed.
Error lost_before_response(const std::string& what,
                           std::string_view phase,
                           const boost::system::error_code& ec);

// A failure after the response started: over body_limit, cut, or not HTTP.
Error read_failure(const std::string& what,
                   const boost::system::error_code& ec,
                   std::uint64_t body_bytes,
                   std::uint64_t body_limit);

}  // namespace lrsched::net
