#include "jobs/firing.hpp"

namespace lrsched::jobs {

FiringDecision decide_firing(const CronExpr& cron, TimeZone tz, const FiringInput& in) {
    FiringDecision d;
    const TimePoint base = in.last_fired.value_or(in.first_loaded);
    auto due = cron.next_after(base, tz);
    if (!due) return d;
    if (*due > in.now) {
        d.next_wake = due;
        return d;
    }
    // Fold every instant due by now into one: the latest stands for them all.
    // Bounded: an every-minute job down for a year is ~5*10^5 steps of a
    // few microseconds.
    TimePoint latest = *due;
    d.missed = 1;
    for (auto n = cron.next_after(latest, tz); n && *n <= in.now; n = cron.next_after(latest, tz)) {
        latest = *n;
        ++d.missed;
    }
    d.mark_fired = latest;
    d.next_wake = cron.next_after(latest, tz);
    if (in.at_startup) {
        if (in.catch_up) {
            d.run_for = latest;
            d.catch_up_run = true;
        }
    } else {
        d.run_for = latest;
    }
    return d;
}

bool firing_skipped(Overlap overlap, const std::optional<LatestRun>& latest) {
    if (overlap == Overlap::queue || !latest || latest->finished) return false;
    return !latest->resolved || latest->waiting > 0;
}

}  // namespace lrsched::jobs
