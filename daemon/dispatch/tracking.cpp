// Dispatcher: following the actions already on the server (SPEC §3 "Polling
// costs little"). One listing of the tenant's recent actions moves every
// tracked session, whatever their number; a submit whose answer was lost is
// looked up by its tag in its machine's actions; the daemon's own backstops
// (queue_expiry, runscript_timeout, run deadlines) end what the server never
// reports.
#include "common/log_text.hpp"
#include "config/policy.hpp"
#include "dispatch/dispatcher.hpp"
#include "evidence/naming.hpp"
#include "sessions/policy.hpp"
#include "sessions/tag.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace lrsched::dispatch {

namespace {

bool action_final(api::ActionStatus s) {
    using api::ActionStatus;
    return s == ActionStatus::succeeded || s == ActionStatus::failed ||
           s == ActionStatus::timed_out || s == ActionStatus::cancelled;
}

// How long past its own limits the daemon waits for the server's word.
Millis grace(const config::Tenant& t) {
    return policy::kGracePolls * t.poll_interval.count();
}

}  // namespace

void Dispatcher::adopt(std::int64_t session_id, const api::MachineAction& action, Millis now) {
    const auto it = tracked_.find(session_id);
    if (it == tracked_.end()) return;
    if (it->second.state != SessionState::submitting) return;
    // An action whose status we cannot read exists all the same: pending.
    const SessionState to = sessions::state_for_action(SessionState::submitting, action)
                                .value_or(SessionState::pending);
    auto d = store::TransitionDetail::note("action " + action.status_text);
    d.action_id = action.id;
    auto row = move(session_id, to, d, now);
    if (row && row->state == SessionState::collecting) start_collecting(session_id, action, now);
}

void Dispatcher::start_collecting(std::int64_t session_id,
                                  const api::MachineAction& action,
                                  Millis now) {
    const auto it = tracked_.find(session_id);
    if (it == tracked_.end() || it->second.action) return;  // already under way
    it->second.action = action;
    it->second.collect_at = now;
    collect_wake_ = true;
}

std::vector<Collection> Dispatcher::collections_due(Millis now) {
    std::vector<Collection> out;
    for (auto& [id, t] : tracked_) {
        if (t.state != SessionState::collecting || !t.action || !t.collect_at ||
            *t.collect_at > now)
            continue;
        t.collect_at.reset();  // handed out
        const RunPlan* plan = plan_of(t.run_id);
        Collection c;
        c.session_id = id;
        c.run_id = t.run_id;
        c.job = plan ? plan->job : "unknown";
        c.machine_id = t.machine_id;
        c.computer_dns_name = t.computer_dns_name;
        c.action_id = t.action->id;
        c.action_status = t.action->status_text;
        for (const auto& cmd : t.action->commands) {
            if (cmd.status != api::CommandStatus::completed || cmd.type == "PutFile") continue;
            ResultItem item;
            item.index = cmd.index;
            item.type = cmd.type;
            if (plan && cmd.index >= 0 &&
                static_cast<std::size_t>(cmd.index) < plan->commands.size())
                item.remote = plan->commands[static_cast<std::size_t>(cmd.index)].param;
            item.name = evidence::artifact_name(cmd.index, cmd.type, item.remote);
            c.items.push_back(std::move(item));
        }
        out.push_back(std::move(c));
    }
    return out;
}

void Dispatcher::collected(std::int64_t session_id, const Collected& outcome, Millis now) {
    const auto it = tracked_.find(session_id);
    if (it == tracked_.end() || !it->second.action) return;
    const api::MachineAction action = *it->second.action;
    SessionState to = sessions::state_after_collecting(action);
    auto d = store::TransitionDetail::note("action " + action.status_text + ", results stored");
    d.exit_code = outcome.exit_code;
    if (to == SessionState::failed) d.error = "action " + action.status_text;
    if (!outcome.not_stored.empty()) {
        // The server's work is done and would come out the same size again:
        // the session fails for good, naming what was left out.
        std::string why = "results not stored: ";
        for (std::size_t i = 0; i < outcome.not_stored.size(); ++i)
            why += (i ? "; " : "") + outcome.not_stored[i];
        d.detail = "action " + action.status_text + ", " + why;
        d.error = d.error ? *d.error + "; " + why : why;
        if (to == SessionState::done) to = SessionState::failed;
        (void)move(session_id, to, d, now, /*may_retry=*/false);
        return;
    }
    (void)move(session_id, to, d, now);
}

void Dispatcher::collect_failed(std::int64_t session_id, const std::string& error, Millis now) {
    const auto it = tracked_.find(session_id);
    if (it == tracked_.end()) return;
    Tracked& t = it->second;
    ++t.collect_failures;
    // A poll interval, doubling (policy::kCollectBackoffCap says why).
    const Millis wait = sessions::backoff_ms(t.collect_failures, tenant_.poll_interval.count(),
                                             policy::kCollectBackoffCap, 1.0);
    t.collect_at = now + std::max<Millis>(wait, policy::kCollectRetryMin);
    spdlog::warn(
        "tenant={} session={} results not stored yet (attempt {}), again in {} ms: error={}",
        tenant_.name, session_id, t.collect_failures, *t.collect_at - now,
        lrsched::log_error(error));
    if (auto r = store_.set_session_error(session_id, error, now); !r)
        log_error("recording a collection error", r.error());
}

void Dispatcher::collect_timed_out(std::int64_t session_id, Millis now) {
    // The action ended on the server; what is missing now will not come by
    // waiting longer: either the listing never showed the action again, or
    // every fetch failed. Stored results stay; the session says what is not.
    const Tracked& t = tracked_.at(session_id);
    auto row = store_.find_session(session_id);
    const std::string last =
        row && *row && (*row)->last_error ? "; last error: " + *(*row)->last_error : "";
    const std::string why =
        (t.action ? "results not stored within collect_timeout"
                  : "the action's end was not seen again within collect_timeout") +
        last;
    (void)move(session_id, SessionState::failed, store::TransitionDetail::failure(why), now,
               /*may_retry=*/false);
}

std::optional<Millis> Dispatcher::next_collection() const {
    std::optional<Millis> at;
    for (const auto& [id, t] : tracked_)
        if (t.state == SessionState::collecting && t.collect_at)
            at = std::min(at.value_or(*t.collect_at), *t.collect_at);
    return at;
}

std::optional<Millis> Dispatcher::poll_since() const {
    std::optional<Millis> since;
    for (const auto& [id, t] : tracked_)
        if (!t.action_id.empty()) since = std::min(since.value_or(t.submitted_at), t.submitted_at);
    return since;
}

void Dispatcher::on_listing(const std::vector<api::MachineAction>& actions, Millis now) {
    std::map<std::string, std::int64_t, std::less<>> by_action;
    for (const auto& [id, t] : tracked_)
        if (!t.action_id.empty()) by_action.emplace(t.action_id, id);
    for (const auto& a : actions) {
        const auto hit = by_action.find(a.id);
        if (hit == by_action.end()) {
            // A lost answer's action, seen before its lookup came due.
            const auto tag = sessions::find_tag(a.comment);
            if (!tag || tag->install_id != install_id_) continue;
            const auto t = tracked_.find(tag->session_id);
            if (t != tracked_.end() && t->second.lookup_at &&
                tag->submission == t->second.submissions)
                adopt(tag->session_id, a, now);
            continue;
        }
        const std::int64_t sid = hit->second;
        const SessionState current = tracked_.at(sid).state;
        if (current == SessionState::collecting) {
            // After a restart: the ended action, to collect its results again.
            if (action_final(a.status)) start_collecting(sid, a, now);
            continue;
        }
        const auto to = sessions::state_for_action(current, a);
        if (!to) continue;
        auto row = move(sid, *to, store::TransitionDetail::note("action " + a.status_text), now);
        if (row && row->state == SessionState::collecting) start_collecting(sid, a, now);
    }
}

std::vector<Lookup> Dispatcher::lookups_due(Millis now) const {
    std::vector<Lookup> out;
    for (const auto& [id, t] : tracked_)
        if (t.lookup_at && *t.lookup_at <= now) out.push_back({id, t.machine_id});
    return out;
}

void Dispatcher::on_lookup(std::int64_t session_id,
                           const std::vector<api::MachineAction>& actions,
                           Millis now) {
    const auto it = tracked_.find(session_id);
    if (it == tracked_.end() || !it->second.lookup_at) return;
    Tracked& t = it->second;
    // The current submission's tag; after a busy answer to a later
    // submission, any of this session's tags (its earlier, lost one).
    const api::MachineAction* found = nullptr;
    std::int64_t found_submission = 0;
    for (const auto& a : actions) {
        const auto tag = sessions::find_tag(a.comment);
        if (!tag || tag->install_id != install_id_ || tag->session_id != session_id) continue;
        const bool match = tag->submission == t.submissions ||
                           (t.if_absent == SessionState::busy && tag->submission < t.submissions);
        if (match && tag->submission >= found_submission) {
            found = &a;
            found_submission = tag->submission;
        }
    }
    if (found) {
        spdlog::info("tenant={} session={} found action={} by its tag", tenant_.name, session_id,
                     log_value(found->id));
        return adopt(session_id, *found, now);
    }
    const Millis lag = tenant_.listing_lag.count();
    if (now - t.answered_at < lag) {
        t.lookup_at = now + std::max<Millis>(lag / policy::kLookupsPerLag, policy::kLookupMin);
        return;
    }
    const RunPlan* plan = plan_of(t.run_id);
    auto d = store::TransitionDetail::note("no action carries the tag after " +
                                           std::to_string(lag) + " ms: never created");
    if (t.if_absent == SessionState::busy) {
        d.error = "ActiveRequestAlreadyExists";
        d.not_before = now + (plan ? plan->retry.busy_every.count() : policy::kDefaultBusyEvery);
    }
    (void)move(session_id, t.if_absent, d, now);
}

std::vector<Cancel> Dispatcher::sweep(Millis now) {
    std::vector<Cancel> cancels;
    std::vector<std::pair<std::int64_t, SessionState>> ends;
    for (const auto& [id, t] : tracked_) {
        const RunPlan* plan = plan_of(t.run_id);
        if (t.state == SessionState::pending) {
            if (now - t.submitted_at >= tenant_.limits.queue_expiry.count() + grace(tenant_))
                ends.emplace_back(id, SessionState::expired);
            else if (plan && plan->deadline_at && now >= *plan->deadline_at)
                ends.emplace_back(id, SessionState::gave_up);
        } else if (t.state == SessionState::running && plan) {
            const Millis limit =
                tenant_.limits.runscript_timeout.count() * std::max(1, plan->run_scripts()) +
                grace(tenant_);
            if (now - t.since >= limit) ends.emplace_back(id, SessionState::collecting);
        } else if (t.state == SessionState::collecting &&
                   now - t.since >= tenant_.limits.collect_timeout.count()) {
            ends.emplace_back(id, SessionState::failed);
        }
    }
    for (const auto& [id, to] : ends) {
        if (to == SessionState::failed) {
            collect_timed_out(id, now);
            continue;
        }
        const std::string action = tracked_.at(id).action_id;
        const std::string why = to == SessionState::expired ? "not started within queue_expiry"
                                : to == SessionState::gave_up
                                    ? "run deadline passed before the machine was reached"
                                    : "the server reported no end within runscript_timeout";
        auto row = move(id, to, store::TransitionDetail::failure(why), now);
        if (row && to == SessionState::collecting)
            (void)move(id, SessionState::failed, store::TransitionDetail::failure(why), now);
        if (!action.empty()) cancels.push_back({action, why});
    }
    for (auto it = runs_.begin(); it != runs_.end();) {
        const RunPlan& plan = (it++)->second;
        if (!plan.deadline_at || now < *plan.deadline_at) continue;
        if (!deadline_handled_.insert(plan.run_id).second) continue;
        auto n = store_.end_waiting(plan.run_id, SessionState::gave_up, "run deadline passed", now);
        if (!n) {
            log_error("giving up run " + std::to_string(plan.run_id), n.error());
            continue;
        }
        if (*n > 0)
            spdlog::info("job={} run={} state=gave_up sessions={}", plan.job, plan.run_id, *n);
        auto finished = store_.finish_run_if_done(plan.run_id, now);
        if (finished && *finished) {
            spdlog::info("job={} run={} state=finished", plan.job, plan.run_id);
            runs_.erase(plan.run_id);
        }
    }
    return cancels;
}

std::optional<Millis> Dispatcher::next_timed_work() const {
    std::optional<Millis> at;
    const auto consider = [&](Millis t) { at = std::min(at.value_or(t), t); };
    for (const auto& [id, t] : tracked_) {
        if (t.lookup_at) consider(*t.lookup_at);
        if (t.state == SessionState::pending)
            consider(t.submitted_at + tenant_.limits.queue_expiry.count() + grace(tenant_));
        if (t.state == SessionState::collecting)
            consider(t.since + tenant_.limits.collect_timeout.count());
        if (t.state == SessionState::running) {
            const RunPlan* plan = plan_of(t.run_id);
            consider(t.since +
                     tenant_.limits.runscript_timeout.count() *
                         std::max(1, plan ? plan->run_scripts() : 1) +
                     grace(tenant_));
        }
    }
    for (const auto& [id, plan] : runs_)
        if (plan.deadline_at && !deadline_handled_.count(id)) consider(*plan.deadline_at);
    return at;
}

void Dispatcher::withdraw_job(const std::string& job, Millis now) {
    for (auto it = runs_.begin(); it != runs_.end();) {
        const RunPlan& plan = (it++)->second;
        if (plan.job != job) continue;
        auto n = store_.end_waiting(plan.run_id, SessionState::withdrawn, "job file deleted", now);
        if (!n) {
            log_error("withdrawing run " + std::to_string(plan.run_id), n.error());
            continue;
        }
        spdlog::info("job={} run={} state=withdrawn sessions={}", job, plan.run_id, *n);
        auto finished = store_.finish_run_if_done(plan.run_id, now);
        if (finished && *finished) runs_.erase(plan.run_id);
    }
}

}  // namespace lrsched::dispatch
