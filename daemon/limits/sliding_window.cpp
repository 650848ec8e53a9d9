#include "limits/sliding_window.hpp"

#include <cassert>
#include <iterator>

namespace lrsched::limits {

SlidingWindow::SlidingWindow(std::int64_t calls, Duration per) : calls_(calls), per_(per) {
    assert(calls > 0 && per.count() > 0);
}

SlidingWindow::CallId SlidingWindow::begin(Millis now) {
    prune(now);
    const CallId id = next_id_++;
    in_flight_.insert(id);
    return id;
}

void SlidingWindow::finish(CallId id, Millis at) {
    const auto erased = in_flight_.erase(id);
    assert(erased == 1);
    (void)erased;
    done_.insert(at);
}

void SlidingWindow::restore(Millis at) {
    done_.insert(at);
}

void SlidingWindow::prune(Millis now) {
    // Entries at or before now - per can never matter again for a call at
    // now or later; keep the log bounded.
    const Millis horizon = now - per_.count();
    done_.erase(done_.begin(), done_.upper_bound(horizon));
}

std::int64_t SlidingWindow::in_window(Millis now) const {
    const Millis horizon = now - per_.count();
    const auto recent = std::distance(done_.upper_bound(horizon), done_.end());
    return static_cast<std::int64_t>(recent) + static_cast<std::int64_t>(in_flight_.size());
}

std::optional<Millis> SlidingWindow::next_allowed(Millis now) const {
    // In-flight calls sit at "now" or later; they leave room only once
    // finished, so with `calls` of them in flight nothing can be said yet.
    const auto flying = static_cast<std::int64_t>(in_flight_.size());
    if (flying >= calls_) return std::nullopt;
    // A new call at T is allowed when fewer than `calls` calls lie in
    // (T - per, T]. In-flight calls are always inside; of the finished ones
    // the (calls - flying)-th most recent must be at or before T - per.
    const std::int64_t k = calls_ - flying;
    if (static_cast<std::int64_t>(done_.size()) < k) return now;
    auto it = done_.end();
    std::advance(it, -k);
    const Millis t = *it + per_.count();
    return t > now ? t : now;
}

}  // namespace lrsched::limits
