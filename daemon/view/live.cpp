#include "view/live.hpp"

#include "common/text.hpp"

namespace lrsched::view {

std::string summary(const TenantLive& t) {
    std::string out =
        "reads=" + std::to_string(t.reads) + " token_fetches=" + std::to_string(t.token_fetches) +
        " slots=" + std::to_string(t.slots_held) + "/" + std::to_string(t.slot_limit) +
        " (offline " + std::to_string(t.slots_held_offline) + "/" +
        std::to_string(t.offline_slots) + ")" + " tracked=" + std::to_string(t.sessions_tracked) +
        " runs=" + std::to_string(t.runs);
    if (t.paused) out += " paused: " + t.paused_reason;
    if (t.unreachable)
        out += " unreachable since " + utc_iso8601(t.unreachable_since.value_or(0)) + ": " +
               t.last_error;
    return out;
}

}  // namespace lrsched::view
