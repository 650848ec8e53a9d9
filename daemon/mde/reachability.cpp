#include "mde/reachability.hpp"

#include "sessions/policy.hpp"

#include <algorithm>

namespace lrsched::mde {

bool is_unreachable(const std::error_code& code) noexcept {
    for (const Errc e : {Errc::connect_failed, Errc::tls_error, Errc::timeout, Errc::no_response,
                         Errc::response_truncated, Errc::protocol_error})
        if (code == make_error_code(e)) return true;
    return false;
}

Reachability::Reachability(Millis base)
    : base_(std::clamp<Millis>(base, policy::kUnreachableBaseMin, policy::kUnreachableBaseMax)) {}

Reachability::Failure Reachability::failed(const std::string& error, Millis now, double unit) {
    Failure f;
    f.first = failures_ == 0;
    if (f.first) since_ = now;
    ++failures_;
    last_error_ = error;
    // Half the doubling delay for sure, the other half drawn: never a
    // retry at once, and a fleet of daemons does not retry in step.
    const Millis ceiling = sessions::backoff_ms(failures_, base_, kCap, 1.0);
    const auto drawn =
        static_cast<Millis>(static_cast<double>(ceiling) / 2.0 * std::clamp(unit, 0.0, 1.0));
    retry_at_ = now + ceiling / 2 + drawn;
    f.retry_at = retry_at_;
    return f;
}

std::optional<Reachability::Outage> Reachability::answered() {
    if (failures_ == 0) return std::nullopt;
    Outage o{since_, failures_, std::move(last_error_)};
    failures_ = 0;
    since_ = 0;
    retry_at_ = 0;
    last_error_.clear();
    return o;
}

}  // namespace lrsched::mde
