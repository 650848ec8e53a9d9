// The arithmetic of estimate.hpp. The offline waits are scheduled one by one
// because their slots free at different times (sessions already pending,
// then rounds of queue_expiry); the online work then fills whatever slots
// the offline ones leave, interval by interval.
#include "dispatch/estimate.hpp"

#include "common/duration.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <queue>

namespace lrsched::dispatch {
namespace {

// When the i-th (0-based) of the waiting sessions may be submitted: the
// sliding window lets `calls` go at once and `calls` more every `per`.
Millis submit_due(std::int64_t i, const EstimateLimits& l) {
    return (i / std::max<std::int64_t>(1, l.submit_calls)) * l.submit_per;
}

struct Interval {
    Millis from = 0;
    Millis to = 0;
};

// Offline slots held over time, and when the last offline wait ends.
struct OfflinePlan {
    std::vector<Interval> held;  // each interval holds one slot
    Millis end = 0;
};

// `left`: what is left of the sessions already waiting on offline machines.
OfflinePlan schedule_offline(const RunWork& w,
                             std::vector<Millis> left,
                             Millis wait,
                             const EstimateLimits& l) {
    OfflinePlan p;
    for (const Millis r : left)
        p.end = std::max(p.end, r);
    if (!l.pending_counts) {
        // Pending holds no slot: every offline-looking session waits at once.
        if (w.queued_offline > 0)
            p.end = std::max(p.end, submit_due(w.queued_offline - 1, l) + wait);
        return p;
    }
    for (const Millis r : left)
        if (r > 0) p.held.push_back({0, r});
    // A new one goes when fewer than offline_slots are held: the slots free
    // at the times of the offline_slots longest waits left, or now.
    const auto k = static_cast<std::size_t>(std::max(0, l.offline_slots));
    std::sort(left.begin(), left.end(), std::greater<>());
    left.resize(k, 0);
    std::priority_queue<Millis, std::vector<Millis>, std::greater<>> free_at(left.begin(),
                                                                             left.end());
    for (std::int64_t i = 0; i < w.queued_offline && !free_at.empty(); ++i) {
        const Millis start = std::max(free_at.top(), submit_due(i, l));
        free_at.pop();
        free_at.push(start + wait);
        if (wait > 0) p.held.push_back({start, start + wait});
        p.end = std::max(p.end, start + wait);
    }
    return p;
}

// When `work` slot-milliseconds are done, with `slots` slots less those the
// offline sessions hold over time.
Millis fill_slots(double work, int slots, const std::vector<Interval>& held) {
    if (work <= 0) return 0;
    std::map<Millis, int> change;  // slot count changes at each instant
    for (const Interval& h : held) {
        ++change[h.from];
        --change[h.to];
    }
    double t = 0;
    int taken = 0;
    for (const auto& [at, delta] : change) {
        const int free = std::max(0, slots - taken);
        const double span = static_cast<double>(at) - t;
        if (span > 0 && free > 0) {
            if (work <= span * free) return static_cast<Millis>(std::ceil(t + work / free));
            work -= span * free;
        }
        t = std::max(t, static_cast<double>(at));
        taken += delta;
    }
    return static_cast<Millis>(std::ceil(t + work / std::max(1, slots)));
}

}  // namespace

Millis median(std::vector<Millis> v) {
    assert(!v.empty());
    const std::size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
    const Millis upper = v[mid];
    if (v.size() % 2 == 1) return upper;
    const Millis lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
    return lower + (upper - lower) / 2;
}

SessionTimes session_times(const store::SessionSamples& samples) {
    SessionTimes t;
    if (samples.online.empty() || samples.source == store::SampleSource::none) return t;
    t.source =
        samples.source == store::SampleSource::job_runs ? TimesSource::job : TimesSource::tenant;
    t.runs = samples.runs;
    t.sessions = samples.online.size();
    t.online_ms = median(samples.online);
    if (!samples.offline.empty()) {
        t.offline_ms = median(samples.offline);
        t.offline_sessions = samples.offline.size();
    }
    return t;
}

const char* source_word(TimesSource source) {
    switch (source) {
        case TimesSource::job:
            return "job";
        case TimesSource::tenant:
            return "tenant";
        case TimesSource::assumed:
            break;
    }
    return "default";
}

std::string describe(const SessionTimes& t) {
    const std::string per = "median " + approx_duration(t.online_ms) + " per session";
    switch (t.source) {
        case TimesSource::job:
            return (t.runs == 1 ? std::string("from this job's last run: ")
                                : "from this job's last " + std::to_string(t.runs) + " runs: ") +
                   per;
        case TimesSource::tenant:
            return "from the tenant's last " + std::to_string(t.sessions + t.offline_sessions) +
                   " sessions: " + per;
        case TimesSource::assumed:
            break;
    }
    return "no measurements yet: " + approx_duration(t.online_ms) + " per session assumed";
}

std::string approx_duration(Millis ms) {
    char buf[32];
    ms = std::max<Millis>(0, ms);
    if (ms < 9'950) {
        std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
        return buf;
    }
    return two_unit_duration((ms + 500) / 1000);
}

EstimateLimits limits_of(const config::Limits& limits) {
    EstimateLimits l;
    l.submit_calls = limits.submit_rate.calls;
    l.submit_per = limits.submit_rate.per.count();
    l.concurrent_sessions = limits.concurrent_sessions;
    l.offline_slots = limits.offline_slots;
    l.pending_counts = limits.pending_counts_as_running;
    l.queue_expiry = limits.queue_expiry.count();
    return l;
}

RunWork run_work(const store::RunReport& run, Millis now) {
    RunWork w;
    if (const auto it = run.counts.find(store::SessionState::busy); it != run.counts.end())
        w.busy = it->second;
    if (!run.backlog) return w;
    const store::RunBacklog& b = *run.backlog;
    w.queued_online = b.queued_online;
    w.queued_offline = b.queued_offline;
    w.busy_until = b.busy_until;
    if (b.busy_every_ms) w.busy_every = *b.busy_every_ms;
    for (const store::InFlightSession& s : b.in_flight) {
        // Only a session still waiting for its machine holds an offline slot.
        const bool waiting =
            s.state == store::SessionState::submitting || s.state == store::SessionState::pending;
        w.in_flight.push_back({s.looks_offline && waiting,
                               s.submitted_at ? std::max<Millis>(0, now - *s.submitted_at) : 0,
                               s.state == store::SessionState::pending});
    }
    return w;
}

Estimate estimate_run(const RunWork& w,
                      const SessionTimes& times,
                      const EstimateLimits& l,
                      Millis now) {
    Estimate e;
    const Millis each = times.online_ms;
    e.offline_measured = times.offline_ms.has_value();
    e.offline_each = times.offline_ms.value_or(l.queue_expiry);
    e.to_submit = w.queued_online + w.queued_offline + w.busy;
    e.submits = e.to_submit > 0 ? submit_due(e.to_submit - 1, l) : 0;
    if (w.paused) {
        e.blocked = Blocked::paused;
        return e;
    }
    if (w.queued_offline > 0 && l.pending_counts && l.offline_slots <= 0) {
        e.blocked = Blocked::no_offline_slots;
        return e;
    }

    // Sessions on the server: what is left of their typical time; a pending
    // one past it waits up to queue_expiry from its submission.
    double online_work = 0;
    Millis online_end = 0;
    std::vector<Millis> offline_left;
    for (const InFlight& f : w.in_flight) {
        const Millis typical = f.offline ? e.offline_each : each;
        Millis left = 0;
        if (f.elapsed < typical) {
            left = typical - f.elapsed;
        } else if (f.pending && f.elapsed < l.queue_expiry) {
            left = l.queue_expiry - f.elapsed;
            ++e.stalled;
        } else {
            ++e.overdue;
        }
        if (f.offline) {
            offline_left.push_back(left);  // scheduled with the offline slots
            continue;
        }
        online_work += static_cast<double>(left);
        online_end = std::max(online_end, left);
    }

    const OfflinePlan offline = schedule_offline(w, std::move(offline_left), e.offline_each, l);
    e.offline = offline.end;
    int held_now = 0;
    for (const Interval& h : offline.held)
        held_now += h.from <= 0 && h.to > 0 ? 1 : 0;
    e.online_slots = std::max(0, l.concurrent_sessions - held_now);

    const std::int64_t online_waiting = w.queued_online + w.busy;
    online_work += static_cast<double>(online_waiting) * static_cast<double>(each);
    online_end = std::max(online_end, fill_slots(online_work, l.concurrent_sessions, offline.held));
    if (online_waiting > 0) online_end = std::max(online_end, e.submits + each);
    if (w.busy > 0) {
        const Millis ready = w.busy_until ? std::max<Millis>(0, *w.busy_until - now)
                                          : std::max<Millis>(0, w.busy_every);
        online_end = std::max(online_end, ready + submit_due(w.busy - 1, l) + each);
    }
    e.online = online_end;
    e.duration = std::max(e.online, e.offline);
    e.end_at = now + e.duration;
    return e;
}

}  // namespace lrsched::dispatch
