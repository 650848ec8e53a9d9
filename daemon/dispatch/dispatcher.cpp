// Dispatcher: loading from the store, choosing the next submit, and what a
// submit's answer means (SPEC §3's submit protocol). The following of
// actions already on the server is in tracking.cpp.
#include "dispatch/dispatcher.hpp"

#include "config/policy.hpp"
#include "dispatch/session_log.hpp"
#include "limits/retry_after.hpp"
#include "sessions/policy.hpp"
#include "sessions/tag.hpp"
#include "store/rate_window.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace lrsched::dispatch {

using limits::slot_class;
using limits::SlotClass;

namespace {

std::vector<limits::WindowSpec> submit_windows(const config::Tenant& t) {
    return {{t.limits.submit_rate.calls, t.limits.submit_rate.per}};
}

bool holds_tracking(SessionState s) {
    return s == SessionState::submitting || s == SessionState::pending ||
           s == SessionState::running || s == SessionState::collecting;
}

}  // namespace

Dispatcher::Dispatcher(store::Store& store, const config::Tenant& tenant, Draw draw)
    : store_(store),
      tenant_(tenant),
      install_id_(store.install_id()),
      gate_({tenant.limits.concurrent_sessions, tenant.limits.offline_slots,
             tenant.limits.pending_counts_as_running}),
      submits_(submit_windows(tenant)),
      draw_(std::move(draw)) {}

void Dispatcher::log_error(const std::string& what, const Error& e) const {
    spdlog::error("tenant={} {}: {}", tenant_.name, what, e.message);
}

Result<void> Dispatcher::load(Millis now) {
    loaded_at_ = now;
    auto state = store_.tenant_state(tenant_.name);
    if (!state) return std::move(state).error();
    // A pause for refused credentials is the daemon's own reaction; a
    // restart (or reload) is the operator's way to say "try again".
    if (state->paused) {
        if (auto r = store_.set_tenant_paused(tenant_.name, false, ""); !r) return r;
    }
    throttled_until_ = state->throttled_until.value_or(0);

    if (auto r = store::restore_rate_window(store_, tenant_.name, store::ApiCallKind::submit,
                                            submits_, now);
        !r)
        return r;

    auto jobs = store_.list_jobs();
    if (!jobs) return std::move(jobs).error();
    for (const auto& j : *jobs)
        job_paused_[j.name] = j.paused;

    auto runs = store_.unfinished_runs();
    if (!runs) return std::move(runs).error();
    for (const auto& r : *runs)
        if (r.tenant == tenant_.name && r.run.resolved_at) {
            if (auto added = add_run(r); !added) return added;
        }
    return ok();
}

Result<void> Dispatcher::add_run(const store::ActiveRun& active) {
    if (runs_.count(active.run.id)) return ok();
    auto plan = plan_from_definition(active.run.id, active.run.definition);
    if (!plan) return std::move(plan).error();
    plan->created_at = active.run.created_at;
    plan->deadline_at = active.run.deadline_at;
    job_paused_.try_emplace(plan->job, false);
    runs_.emplace(active.run.id, std::move(*plan));
    // Sessions of this run already on their way (a restart): track them.
    for (const SessionState s : {SessionState::submitting, SessionState::pending,
                                 SessionState::running, SessionState::collecting}) {
        auto rows = store_.sessions_of_run(active.run.id, s);
        if (!rows) return std::move(rows).error();
        for (const auto& row : *rows) {
            Tracked t;
            t.take(row);
            t.submitted_at = row.submitted_at.value_or(row.updated_at);
            // updated_at also moves when an error is recorded (a failed
            // download): the backstops count from the state's own start.
            auto entered = store_.entered_state_at(row.id);
            if (!entered) return std::move(entered).error();
            t.since = entered->value_or(row.updated_at);
            // A submit whose answer never came back: find out before anything
            // else. The call may have reached the server until the restart.
            if (s == SessionState::submitting) {
                t.lookup_at = row.updated_at;
                t.answered_at = std::max(loaded_at_, t.submitted_at);
            }
            tracked_[row.id] = std::move(t);
            gate_.move(SlotClass::none, slot_class(row.state, row.looks_offline));
        }
    }
    wake_ = true;
    offline_waiting_ = true;  // health_check_due() finds out
    // A run whose targets all turned out unknown has nothing to wait for.
    auto finished = store_.finish_run_if_done(
        active.run.id, active.run.resolved_at.value_or(active.run.created_at));
    if (!finished) return std::move(finished).error();
    if (*finished) runs_.erase(active.run.id);
    return ok();
}

bool Dispatcher::has_queued() {
    auto with_queued = store_.runs_with_queued();
    if (!with_queued) return false;
    return std::any_of(with_queued->begin(), with_queued->end(),
                       [&](std::int64_t id) { return plan_of(id) != nullptr; });
}

Millis Dispatcher::poll_every() const {
    const Millis normal = tenant_.poll_interval.count();
    if (!slots_wanted_) return normal;
    // Every slot is held and work waits: the sooner an ended action is seen,
    // the sooner its slot serves the next session. Spend up to half of the
    // tightest sustained read rate on it (100/min and 1500/h: every 4.8 s).
    Millis spacing = 0;
    for (const auto& r : tenant_.limits.read_rate)
        spacing = std::max<Millis>(spacing, r.per.count() / std::max<std::int64_t>(1, r.calls));
    return std::clamp<Millis>(policy::kFastPollShare * spacing, policy::kFastPollMin, normal);
}

const RunPlan* Dispatcher::plan_of(std::int64_t run_id) const {
    const auto it = runs_.find(run_id);
    return it == runs_.end() ? nullptr : &it->second;
}

void Dispatcher::requeue_busy(Millis now) {
    auto due = store_.busy_due(now);
    if (!due) return log_error("reading busy sessions", due.error());
    for (const auto& s : *due)
        if (plan_of(s.run_id))
            (void)move(s.id, SessionState::queued, store::TransitionDetail::note("busy wait over"),
                       now);
}

std::optional<SessionRow> Dispatcher::pick(Millis now, std::optional<Millis>& wake) {
    auto with_queued = store_.runs_with_queued();
    if (!with_queued) {
        log_error("reading the queue", with_queued.error());
        return std::nullopt;
    }
    std::vector<const RunPlan*> order;
    for (const std::int64_t id : *with_queued)
        if (const RunPlan* p = plan_of(id)) order.push_back(p);
    std::stable_sort(order.begin(), order.end(), [](const RunPlan* a, const RunPlan* b) {
        if (a->priority != b->priority) return a->priority > b->priority;
        return a->created_at < b->created_at;
    });
    for (const RunPlan* plan : order) {
        if (job_paused_[plan->job]) continue;
        if (plan->deadline_at && now >= *plan->deadline_at) continue;  // sweep() gives up
        Millis opens = 0;
        if (!plan->window_open(now, &opens)) {
            wake = std::min(wake.value_or(opens), opens);
            continue;
        }
        // Offline-looking machines first while an offline slot is free: their
        // wait on the server then overlaps the rest of the sweep, instead of
        // starting once the online ones are all sent. The gate keeps them to
        // offline_slots, so the online machines have the other slots.
        for (const bool offline : {true, false}) {
            if (!gate_.allows(offline)) continue;
            auto s = store_.oldest_queued(plan->run_id, offline);
            if (!s) {
                log_error("reading the queue", s.error());
                return std::nullopt;
            }
            if (*s) return std::move(*s);
        }
    }
    return std::nullopt;
}

std::variant<Submit, Idle> Dispatcher::next(Millis now) {
    if (paused_) return Idle{std::nullopt, "tenant paused: " + paused_reason_};
    if (throttled_until_ > now) return Idle{throttled_until_, "throttled (429)"};
    requeue_busy(now);
    std::optional<Millis> wake;
    if (auto busy = store_.next_busy_wake(); busy && *busy) wake = **busy;
    slots_wanted_ = false;
    if (!gate_.allows(false)) {
        slots_wanted_ = has_queued();
        return Idle{wake, "every slot is held"};
    }
    const auto allowed = submits_.next_allowed(now);
    if (!allowed) return Idle{wake, "submit window filled by calls in flight"};
    if (*allowed > now) return Idle{std::min(wake.value_or(*allowed), *allowed), "submit window"};
    auto session = pick(now, wake);
    if (!session) return Idle{wake, "nothing to submit"};
    const RunPlan& plan = *plan_of(session->run_id);

    auto start = store_.begin_submit(session->id, tenant_.name, now);
    if (!start) {
        log_error("marking a session submitting", start.error());
        return Idle{now + policy::kStoreErrorRetry, "store error"};
    }
    Submit out;
    out.session_id = session->id;
    out.run_id = session->run_id;
    out.machine_id = session->machine_id;
    out.tag = store_.correlation_tag(start->session);
    out.body =
        api::run_live_response_body(plan.commands, sessions::action_comment(plan.comment, out.tag));
    out.store_call_id = start->call_id;
    out.limiter_call_id = submits_.begin(now);
    after_move(start->session, SessionState::queued, now);
    return out;
}

FollowUp Dispatcher::submit_answered(const Submit& submit, const SubmitAnswer& answer, Millis now) {
    submits_.finish(submit.limiter_call_id, now);
    if (auto r = store_.end_api_call(submit.store_call_id, now); !r)
        log_error("recording a call's end", r.error());
    const auto it = tracked_.find(submit.session_id);
    if (it == tracked_.end()) return FollowUp::none;  // cancelled meanwhile
    Tracked& t = it->second;
    const Millis lag = tenant_.listing_lag.count();
    t.answered_at = now;
    const auto look_up = [&](SessionState if_absent) {
        t.if_absent = if_absent;
        t.lookup_at = now + std::max<Millis>(lag / policy::kLookupsPerLag, policy::kLookupMin);
        return FollowUp::reconcile;
    };
    if (answer.net_error) {
        if (!answer.request_sent) {
            (void)move(submit.session_id, SessionState::queued,
                       store::TransitionDetail::note("never sent: " + answer.net_error->message),
                       now);
            return FollowUp::none;
        }
        spdlog::warn("tenant={} machine={} submit outcome unknown ({}): looking for tag {}",
                     tenant_.name, log_value(submit.machine_id), answer.net_error->message,
                     submit.tag);
        return look_up(SessionState::queued);
    }
    const api::SubmitResult r = api::classify_submit(answer.status, answer.body);
    const RunPlan* plan = plan_of(submit.run_id);
    using api::SubmitOutcome;
    switch (r.outcome) {
        case SubmitOutcome::created:
            unauthorized_in_a_row_ = 0;
            throttles_in_a_row_ = 0;
            if (plan) rejections_.erase(plan->job);
            adopt(submit.session_id, *r.action, now);
            return FollowUp::none;
        case SubmitOutcome::busy:
            // On a later submission the machine may be busy with our own
            // earlier action, whose answer was lost: look for it first.
            if (t.submissions > 1) return look_up(SessionState::busy);
            {
                auto d = store::TransitionDetail::failure(r.message);
                d.not_before =
                    now + (plan ? plan->retry.busy_every.count() : policy::kDefaultBusyEvery);
                (void)move(submit.session_id, SessionState::busy, d, now);
            }
            return FollowUp::none;
        case SubmitOutcome::not_found:
            (void)move(submit.session_id, SessionState::not_found,
                       store::TransitionDetail::failure(r.message), now);
            return FollowUp::none;
        case SubmitOutcome::rejected:
            (void)move(submit.session_id, SessionState::rejected,
                       store::TransitionDetail::failure(r.message), now);
            if (plan) handle_rejection(*plan, r);
            return FollowUp::none;
        case SubmitOutcome::throttled: {
            // A 429 means the call was refused, not processed.
            (void)move(submit.session_id, SessionState::queued,
                       store::TransitionDetail::note("429: " + r.message), now);
            ++throttles_in_a_row_;
            const Millis fallback =
                now + sessions::backoff_ms(throttles_in_a_row_, policy::kThrottleWait,
                                           policy::kThrottleBackoffCap, draw_());
            throttle(limits::parse_retry_after(answer.retry_after, now).value_or(fallback), now);
            return FollowUp::none;
        }
        case SubmitOutcome::unauthorized:
            (void)move(submit.session_id, SessionState::queued,
                       store::TransitionDetail::note("401: " + r.message), now);
            if (++unauthorized_in_a_row_ >= 2) {
                token_refused("the API answered 401 twice in a row, after a token refresh: " +
                              r.message);
                return FollowUp::none;
            }
            return FollowUp::refresh_token;
        case SubmitOutcome::forbidden:
            (void)move(submit.session_id, SessionState::queued,
                       store::TransitionDetail::note("403: " + r.message), now);
            token_refused("the API answered 403 (does the app have Machine.LiveResponse?): " +
                          r.message);
            return FollowUp::none;
        case SubmitOutcome::unknown:
            spdlog::warn("tenant={} machine={} submit answered HTTP {}: looking for tag {}",
                         tenant_.name, log_value(submit.machine_id), answer.status, submit.tag);
            return look_up(SessionState::queued);
    }
    return FollowUp::none;
}

void Dispatcher::token_refused(const std::string& why) {
    paused_ = true;
    paused_reason_ = why;
    spdlog::error("tenant={} paused: {}", tenant_.name, why);
    if (auto r = store_.set_tenant_paused(tenant_.name, true, why); !r)
        log_error("recording the pause", r.error());
}

void Dispatcher::credentials_replaced() {
    if (!paused_) return;
    paused_ = false;
    paused_reason_.clear();
    spdlog::info("tenant={} resumed: credentials re-read", tenant_.name);
    if (auto r = store_.set_tenant_paused(tenant_.name, false, ""); !r)
        log_error("recording the resume", r.error());
    wake_ = true;
}

void Dispatcher::throttle(Millis until, Millis now) {
    throttled_until_ = std::max(throttled_until_, until);
    spdlog::warn("tenant={} throttled by the API for {} ms", tenant_.name, until - now);
    if (auto r = store_.set_tenant_throttled_until(tenant_.name, throttled_until_); !r)
        log_error("recording the throttle", r.error());
}

void Dispatcher::handle_rejection(const RunPlan& plan, const api::SubmitResult& r) {
    const std::string& reason = r.message;  // the API's code and message
    auto& [last, streak] = rejections_[plan.job];
    streak = last == reason ? streak + 1 : 1;
    last = reason;
    if (streak < policy::kRejectionsToPause) return;
    const std::string why =
        "paused after " + std::to_string(streak) + " submits rejected in a row with: " + reason;
    spdlog::error("job={} {}", plan.job, why);
    job_paused_[plan.job] = true;
    if (auto res = store_.set_job_paused(plan.job, true, why); !res)
        log_error("pausing job " + plan.job, res.error());
}

void Dispatcher::set_job_paused(const std::string& job, bool paused) {
    job_paused_[job] = paused;
    if (!paused) rejections_.erase(job);
    wake_ = true;
}

Result<SessionRow> Dispatcher::move(std::int64_t session_id,
                                    SessionState to,
                                    const store::TransitionDetail& detail,
                                    Millis now,
                                    bool may_retry) {
    auto before = store_.find_session(session_id);
    if (!before) return std::move(before).error();
    if (!*before) return Error{Errc::not_found, "session " + std::to_string(session_id)};
    const SessionState from = (*before)->state;
    auto row = store_.transition(session_id, to, detail, now);
    if (!row) {
        log_error("session " + std::to_string(session_id) + " " +
                      std::string(sessions::to_string(from)) + " -> " +
                      std::string(sessions::to_string(to)),
                  row.error());
        return row;
    }
    after_move(*row, from, now, may_retry);
    return row;
}

void Dispatcher::after_move(const SessionRow& row, SessionState from, Millis now, bool may_retry) {
    const SlotClass was = slot_class(from, row.looks_offline);
    const SlotClass is = slot_class(row.state, row.looks_offline);
    gate_.move(was, is);
    if (was != SlotClass::none && is == SlotClass::none) wake_ = true;
    const RunPlan* plan = plan_of(row.run_id);
    log_session(plan ? plan->job : "?", row, from);
    if (cancel_wanted_.contains(row.id) && after_cancel(row, now)) return;

    if (holds_tracking(row.state)) {
        Tracked& t = tracked_[row.id];
        if (t.state != row.state || t.since == 0) t.since = now;
        t.take(row);
        if (row.state == SessionState::submitting) t.submitted_at = now;
        t.lookup_at.reset();  // a new state: whatever was looked up is settled
        return;
    }
    tracked_.erase(row.id);
    if (row.state == SessionState::queued) wake_ = true;
    if (!sessions::is_terminal(row.state) || !plan) return;
    if (cancel_wanted_.erase(row.id) > 0) {
        cancel_sent_.erase(row.id);
        may_retry = false;  // the operator cancelled it: no other attempt
    }
    const bool before_deadline = !plan->deadline_at || now < *plan->deadline_at;
    if (before_deadline && may_retry &&
        sessions::should_retry(row.state, static_cast<int>(row.attempt), plan->retry)) {
        (void)move(row.id, SessionState::queued,
                   store::TransitionDetail::note("retry " + std::to_string(row.attempt + 1)), now);
        return;
    }
    auto finished = store_.finish_run_if_done(row.run_id, now);
    if (!finished)
        return log_error("finishing run " + std::to_string(row.run_id), finished.error());
    if (*finished) {
        spdlog::info("job={} run={} state=finished", plan->job, row.run_id);
        runs_.erase(row.run_id);
    }
}

}  // namespace lrsched::dispatch
