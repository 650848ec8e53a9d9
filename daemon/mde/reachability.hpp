// Reachability: whether one tenant's API (and its token endpoint) answers at
// all, and when to try again while it does not. A refused connection, a
// certificate that fails verification, a timeout or a reset is "no answer";
// any HTTP status, even a 5xx, is an answer. While calls get no answer, the
// loops wait a jittered, doubling delay up to kCap instead of retrying on a
// fixed tick, and the outage is logged twice (its first failure and its
// end), not at every retry. Pure: the caller gives the time and the random
// draw. Load: one update per API call, a few a minute.
#pragma once

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/result.hpp"
#include "config/policy.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace lrsched::mde {

// A network outcome that means the server gave no answer (as opposed to an
// HTTP status, or our own refusal of a file or value).
bool is_unreachable(const std::error_code& code) noexcept;

class Reachability {
  public:
    static constexpr Millis kCap = policy::kUnreachableBackoffCap;

    // `base`: the first delay (a poll interval; clamped, policy.hpp says why).
    explicit Reachability(Millis base);

    struct Failure {
        bool first = false;  // the outage starts here: log it
        Millis retry_at = 0;
    };
    // A call got no answer at `now`; `unit` in [0, 1) is the random draw.
    Failure failed(const std::string& error, Millis now, double unit);

    struct Outage {
        Millis since = 0;
        int failures = 0;
        std::string last_error;
    };
    // A call got an answer: the outage that ends with it, if there was one.
    std::optional<Outage> answered();

    bool failing() const noexcept { return failures_ > 0; }
    // While failing, no call should leave before this instant.
    Millis retry_at() const noexcept { return retry_at_; }
    const std::string& last_error() const noexcept { return last_error_; }
    Millis since() const noexcept { return since_; }

  private:
    Millis base_;
    int failures_ = 0;
    Millis since_ = 0;
    Millis retry_at_ = 0;
    std::string last_error_;
};

}  // namespace lrsched::mde
