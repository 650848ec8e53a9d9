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
    const auto throttled = [&t](const char* cause) {
        const auto it = t.throttled.find(cause);
        return std::to_string(it == t.throttled.end() ? 0 : it->second);
    };
    out += " throttled_submit=" + throttled("submit_window") +
           " throttled_read=" + throttled("read_window") +
           " throttled_other=" + throttled("other") + " results=" + std::to_string(t.result_files) +
           " result_bytes=" + std::to_string(t.result_bytes);
    if (t.paused) out += " paused: " + t.paused_reason;
    if (t.unreachable)
        out += " unreachable since " + utc_iso8601(t.unreachable_since.value_or(0)) + ": " +
               t.last_error;
    return out;
}

}  // namespace lrsched::view
