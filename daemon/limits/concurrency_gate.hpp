// The concurrency gate of one tenant (SPEC §1, §3 "Offline-aware"): how many
// of the server's session slots our sessions hold, and whether one more may
// be submitted. Counters move with every session transition, so a decision
// costs O(1) whatever the number of sessions (up to 10^5 queued per job).
// Pure; lives on the io thread with the dispatcher.
//
// A session holds a slot from the moment its submit leaves (its outcome may
// be a new action) until its action ends on the server; while the action is
// only Pending it holds one if the server counts Pending against the cap
// (`pending_counts_as_running`, one report says it does). Sessions sent to
// machines that looked offline hold at most `offline_slots` slots while
// pending, so a fleet's offline machines cannot block the online ones for
// the three days the server queues them.
#pragma once

#include "sessions/session_state.hpp"

#include <array>

namespace lrsched::limits {

struct GateLimits {
    int slots = 25;
    int offline_slots = 5;
    bool pending_counts = true;
};

enum class SlotClass {
    none,  // holds nothing: queued, busy, collecting, final
    submitting_online,
    submitting_offline,
    pending_online,
    pending_offline,
    running,
};
inline constexpr std::size_t kSlotClasses = 6;

// The slot class of a session in `state`, sent to a machine that looked
// offline (or not) when it was dispatched.
SlotClass slot_class(sessions::SessionState state, bool looked_offline) noexcept;

class ConcurrencyGate {
  public:
    explicit ConcurrencyGate(GateLimits limits) : limits_(limits) {}

    // A session moved between classes (either may be none).
    void move(SlotClass from, SlotClass to) noexcept;

    // Whether one more submit, to a machine that looks offline or not, keeps
    // us within the slots and the offline share.
    bool allows(bool target_looks_offline) const noexcept;

    int held() const noexcept;          // slots held against the server's cap
    int held_offline() const noexcept;  // of those, by sessions sent to offline-looking machines
    int count(SlotClass c) const noexcept { return counts_[static_cast<std::size_t>(c)]; }
    const GateLimits& limits() const noexcept { return limits_; }

  private:
    GateLimits limits_;
    std::array<int, kSlotClasses> counts_{};
};

}  // namespace lrsched::limits
