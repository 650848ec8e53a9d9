// Dispatcher: re-checking the health of the machines that sessions wait for
// (SPEC §3 "Offline-aware"). A session is sent to an offline-looking machine
// only through the offline slots, and `looks_offline` was decided when its
// run was resolved; a machine that comes online later, or goes offline,
// would keep the wrong class to the end of the sweep. While such sessions
// wait, the machines that do not look active are listed again every few
// polls (one filtered listing in the read budget, not one call per machine)
// and every waiting session takes its machine's present class. Expected
// load: one listing every health_every() per tenant with offline-looking
// sessions waiting; the store update is one statement per unfinished run.
#include "common/text.hpp"
#include "config/policy.hpp"
#include "dispatch/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace lrsched::dispatch {

using limits::slot_class;

std::vector<std::string> Dispatcher::offline_filters(Millis now) const {
    // Two terms, not one with `or`: the documented examples combine none,
    // and each listing is small (the offline share of a fleet).
    return {"healthStatus ne 'Active'",
            "lastSeen lt " + utc_iso8601(now - tenant_.offline_after.count())};
}

Millis Dispatcher::health_every() const {
    // 2 minutes at the default 30 s, a couple of seconds under a test's
    // compressed limits; never more often than every second.
    return std::clamp<Millis>(policy::kHealthEveryPolls * tenant_.poll_interval.count(),
                              policy::kRecheckMin, policy::kRecheckMax);
}

bool Dispatcher::health_check_due(Millis now) {
    if (now < next_health_check_) return false;
    offline_waiting_ = offline_sessions_waiting();
    return offline_waiting_;
}

bool Dispatcher::offline_sessions_waiting() {
    const bool waiting_on_server =
        std::any_of(tracked_.begin(), tracked_.end(), [](const auto& entry) {
            const Tracked& t = entry.second;
            return t.looks_offline &&
                   (t.state == SessionState::submitting || t.state == SessionState::pending);
        });
    if (waiting_on_server) return true;
    for (const auto& [id, plan] : runs_) {
        auto waiting = store_.has_waiting_offline(id);
        if (!waiting) {
            log_error("reading the queue", waiting.error());
            return false;
        }
        if (*waiting) return true;
    }
    return false;
}

void Dispatcher::on_health(const std::vector<api::Machine>& offline_now, Millis now) {
    next_health_check_ = now + health_every();
    std::set<std::string> ids;
    for (const auto& m : offline_now)
        ids.insert(to_lower(m.id));
    std::vector<std::int64_t> run_ids;
    run_ids.reserve(runs_.size());
    for (const auto& [id, plan] : runs_)
        run_ids.push_back(id);
    auto changed = store_.set_waiting_offline(run_ids, ids);
    if (!changed) return log_error("recording machine health", changed.error());
    std::size_t online = 0;
    for (const auto& c : *changed) {
        online += c.looks_offline ? 0 : 1;
        const auto it = tracked_.find(c.session_id);
        if (it == tracked_.end()) continue;  // queued or busy: the store's order is enough
        Tracked& t = it->second;
        gate_.move(slot_class(t.state, t.looks_offline), slot_class(t.state, c.looks_offline));
        t.looks_offline = c.looks_offline;
    }
    if (changed->empty()) return;
    // A session that left the offline share may have freed a slot for the
    // next offline-looking one, and a queued one moved up.
    wake_ = true;
    spdlog::info("tenant={} machine health: {} waiting session(s) now look online, {} offline",
                 tenant_.name, online, changed->size() - online);
}

}  // namespace lrsched::dispatch
