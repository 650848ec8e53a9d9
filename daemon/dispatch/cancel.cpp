// The operator's `lrsched cancel JOB [--machine ID]` inside the dispatcher
// (SPEC §3: "cancelled: by the operator"): waiting sessions end at once in
// one transaction per run, sessions in flight have their actions cancelled
// on the server through the read budget and are followed to the end.
// Expected load: a few commands per sweep; O(runs + tracked sessions).
#include "common/log_text.hpp"
#include "dispatch/dispatcher.hpp"

#include <spdlog/spdlog.h>

namespace lrsched::dispatch {

namespace {

constexpr const char* kOperatorCancel = "cancelled by the operator";
// A cancel call that failed (network, 5xx) is tried again at the next
// polls, this many times in all: the action then runs to its end, as a
// session the daemon did not manage to cancel.
constexpr int kCancelAttempts = 5;

}  // namespace

CancelOutcome Dispatcher::cancel_job(const std::string& job,
                                     const std::optional<std::string>& machine,
                                     Millis now) {
    CancelOutcome out;
    for (const auto& [run_id, plan] : runs_) {
        if (plan.job != job) continue;
        ++out.runs;
        auto n = store_.end_waiting(run_id, SessionState::cancelled, kOperatorCancel, now, machine);
        if (!n) {
            log_error("cancelling run " + std::to_string(run_id), n.error());
            continue;
        }
        out.cancelled += *n;
        if (*n > 0) spdlog::info("job={} run={} state=cancelled sessions={}", job, run_id, *n);
    }
    for (const auto& [id, t] : tracked_) {
        const RunPlan* plan = plan_of(t.run_id);
        if (!plan || plan->job != job || (machine && t.machine_id != *machine)) continue;
        // Collecting: the action has ended and its results come home; the
        // mark only stops a retry.
        if (!cancel_wanted_.insert(id).second || t.state == SessionState::collecting) continue;
        ++out.on_server;
        if ((t.state == SessionState::pending || t.state == SessionState::running) &&
            !t.action_id.empty() && cancel_sent_.insert(id).second) {
            operator_cancels_.push_back({t.action_id, kOperatorCancel});
            spdlog::info("job={} run={} session={} action={} cancelling on the server", job,
                         t.run_id, id, log_value(t.action_id));
        }
    }
    for (auto it = runs_.begin(); it != runs_.end();) {
        const std::int64_t run_id = it->first;
        const bool of_job = it->second.job == job;
        ++it;
        if (!of_job) continue;
        auto finished = store_.finish_run_if_done(run_id, now);
        if (finished && *finished) {
            spdlog::info("job={} run={} state=finished", job, run_id);
            runs_.erase(run_id);
        }
    }
    wake_ = true;
    return out;
}

void Dispatcher::cancel_failed(Cancel c) {
    if (++c.attempts >= kCancelAttempts) {
        spdlog::warn("tenant={} action={} not cancelled after {} attempts: it runs to its end",
                     tenant_.name, log_value(c.action_id), c.attempts);
        return;
    }
    operator_cancels_.push_back(std::move(c));
}

bool Dispatcher::after_cancel(const SessionRow& row, Millis now) {
    if (row.state == SessionState::queued || row.state == SessionState::busy) {
        // Proved never created, or refused as busy: nothing is on the
        // server, so the session ends here instead of waiting again.
        tracked_.erase(row.id);
        cancel_wanted_.erase(row.id);
        cancel_sent_.erase(row.id);
        (void)move(row.id, SessionState::cancelled, store::TransitionDetail::note(kOperatorCancel),
                   now, /*may_retry=*/false);
        return true;
    }
    if ((row.state == SessionState::pending || row.state == SessionState::running) &&
        row.action_id && !row.action_id->empty() && cancel_sent_.insert(row.id).second)
        operator_cancels_.push_back({*row.action_id, kOperatorCancel});
    return false;
}

}  // namespace lrsched::dispatch
