#include "limits/concurrency_gate.hpp"

#include <cassert>

namespace lrsched::limits {

using sessions::SessionState;

SlotClass slot_class(SessionState state, bool looked_offline) noexcept {
    switch (state) {
        case SessionState::submitting:
            return looked_offline ? SlotClass::submitting_offline : SlotClass::submitting_online;
        case SessionState::pending:
            return looked_offline ? SlotClass::pending_offline : SlotClass::pending_online;
        case SessionState::running:
            return SlotClass::running;
        default:
            return SlotClass::none;
    }
}

void ConcurrencyGate::move(SlotClass from, SlotClass to) noexcept {
    if (from == to) return;
    if (from != SlotClass::none) {
        auto& c = counts_[static_cast<std::size_t>(from)];
        assert(c > 0 && "a session left a slot class it was never counted in");
        --c;
    }
    if (to != SlotClass::none) ++counts_[static_cast<std::size_t>(to)];
}

int ConcurrencyGate::held() const noexcept {
    int n = count(SlotClass::submitting_online) + count(SlotClass::submitting_offline) +
            count(SlotClass::running);
    if (limits_.pending_counts)
        n += count(SlotClass::pending_online) + count(SlotClass::pending_offline);
    return n;
}

int ConcurrencyGate::held_offline() const noexcept {
    return count(SlotClass::submitting_offline) +
           (limits_.pending_counts ? count(SlotClass::pending_offline) : 0);
}

bool ConcurrencyGate::allows(bool target_looks_offline) const noexcept {
    if (held() >= limits_.slots) return false;
    // Pending sessions that hold no server slot cannot block anyone, so the
    // offline share only matters when the server counts them.
    if (target_looks_offline && limits_.pending_counts)
        return held_offline() < limits_.offline_slots;
    return true;
}

}  // namespace lrsched::limits
