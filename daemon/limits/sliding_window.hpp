// The sliding-window log behind every API limit (SPEC §1): no window of
// length `per` ever holds more than `calls` calls. One per tenant and limit;
// holds at most `calls` recent entries plus the calls in flight, consulted a
// few times per dispatch decision. Pure: time is passed in (Unix ms).
//
// A call's instant at the server lies somewhere between our send and the
// end of the exchange, so a finished call is logged at its *end* time and a
// call still in flight counts as happening "now" until it ends. Two calls we
// log `per` apart are then at least `per` apart at the server too, whatever
// the network did, and no safety margin has to be guessed.
#pragma once

#include "common/clock.hpp"
#include "common/duration.hpp"

#include <cstdint>
#include <optional>
#include <set>

namespace lrsched::limits {

class SlidingWindow {
  public:
    SlidingWindow(std::int64_t calls, Duration per);

    using CallId = std::uint64_t;

    // A call leaves now: it counts from this moment. Never refused here: ask
    // next_allowed() first. Rejected calls (429) count like any other.
    CallId begin(Millis now);
    // The call's exchange ended (answer, error or timeout) at `at`.
    void finish(CallId id, Millis at);
    // A call that ended before this process started (restored from the store).
    void restore(Millis at);

    // The earliest instant >= now at which one more call keeps every window
    // within the limit, or nullopt while calls in flight alone fill the
    // window (wait for one of them to finish).
    std::optional<Millis> next_allowed(Millis now) const;
    bool allows(Millis now) const {
        const auto t = next_allowed(now);
        return t && *t <= now;
    }

    // Calls in the window ending at `now`, in-flight ones included.
    std::int64_t in_window(Millis now) const;
    std::int64_t calls() const noexcept { return calls_; }
    Duration per() const noexcept { return per_; }

  private:
    void prune(Millis now);

    std::int64_t calls_;
    Duration per_;
    std::multiset<Millis> done_;  // end times of finished calls, pruned lazily
    std::set<CallId> in_flight_;
    CallId next_id_ = 1;
};

}  // namespace lrsched::limits
