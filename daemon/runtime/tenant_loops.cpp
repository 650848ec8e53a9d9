// The two network loops of each tenant (SPEC §1, §3): dispatch submits what
// the dispatcher picks, one call at a time within the submit rate; tracking
// lists the actions of sessions on the server, re-lists offline-looking
// machines, finds lost submits by their tags and cancels what ran too long.
// Both sleep on their Event until the dispatcher's next timed work or news
// from another loop, and wait out the backoff while the API gives no answer.
// Expected load: ~10 submits and a few reads a minute per tenant.
#include "api/mde.hpp"
#include "common/text.hpp"
#include "config/policy.hpp"
#include "runtime/sd_notify.hpp"
#include "runtime/shell.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

namespace lrsched::runtime {

void Daemon::wake_dispatch_if_needed(TenantRt* t) {
    if (t->dispatcher->take_wake()) t->dispatch.notify();
}

asio::awaitable<void> Daemon::dispatch_loop(TenantRt* t) {
    Dispatcher& d = *t->dispatcher;
    const Reachability& reach = t->api->reachability();
    while (!stopping_) {
        dispatch_alive(t);
        // While the API gives no answer, nothing leaves before the backoff
        // has passed, whoever wakes this loop.
        if (reach.failing() && unix_now() < reach.retry_at()) {
            co_await t->dispatch.wait(watchdog_cap(reach.retry_at()));
            continue;
        }
        std::string token;
        if (!d.paused()) {
            auto tok = co_await t->tokens->token();
            if (stopping_) break;
            if (!tok) {
                if (tok.error().code == make_error_code(Errc::permission_denied))
                    d.token_refused(tok.error().message);
                else
                    t->api->token_failed(tok.error());
                continue;
            }
            token = std::move(*tok);
        }
        auto next = d.next(unix_now());
        (void)d.take_wake();  // next() saw its own changes
        if (auto* submit = std::get_if<Submit>(&next)) {
            const api::SubmitAnswer answer =
                co_await t->api->submit(submit->machine_id, submit->body, token);
            const FollowUp f = d.submit_answered(*submit, answer, call_end_now());
            if (f == FollowUp::refresh_token) (void)co_await t->tokens->token(token);
            t->track.notify();
            continue;
        }
        const Idle& idle = std::get<Idle>(next);
        t->track.notify();  // it may poll sooner now (Dispatcher::poll_every)
        spdlog::debug("tenant={} idle: {}", t->cfg.name, idle.why);
        co_await t->dispatch.wait(watchdog_cap(idle.wake_at));
    }
}

void Daemon::dispatch_alive(TenantRt* t) {
    const Millis now = unix_now();
    t->alive_at = now;
    if (!watchdog_every_ || now - watchdog_sent_ < *watchdog_every_) return;
    // systemd hears from the daemon only when every tenant's dispatch loop
    // has come round since the last ping: one stuck loop (not a call with
    // its deadline: a loop that no longer turns) stops the pings, and
    // WatchdogSec= restarts the daemon.
    for (const auto& other : tenants_)
        if (other->alive_at < watchdog_sent_) return;
    sd::watchdog();
    watchdog_sent_ = now;
}

std::optional<Millis> Daemon::watchdog_cap(std::optional<Millis> wake) const {
    if (!watchdog_every_) return wake;
    const Millis by = unix_now() + *watchdog_every_;
    return std::min(wake.value_or(by), by);
}

asio::awaitable<void> Daemon::track_loop(TenantRt* t) {
    Dispatcher& d = *t->dispatcher;
    const Millis interval = t->cfg.poll_interval.count();
    Millis last_poll = 0;
    const Reachability& reach = t->api->reachability();
    std::string last_error;  // logged once while it repeats
    while (!stopping_) {
        if (reach.failing() && unix_now() < reach.retry_at()) {
            co_await t->track.wait(reach.retry_at());
            continue;
        }
        std::optional<Millis> backoff;
        const auto failed = [&](const Error& e) {
            if (e.code == make_error_code(Errc::permission_denied)) d.token_refused(e.message);
            // An outage is logged by the client, at its start and its end.
            if (!reach.failing() && e.message != last_error)
                spdlog::warn("tenant={} {}", t->cfg.name, e.message);
            last_error = e.message;
            backoff = unix_now() + std::min(interval, policy::kReadErrorBackoff);
        };
        for (const Lookup& l : d.lookups_due(unix_now())) {
            const Millis sent = unix_now();
            auto actions =
                co_await t->api->list_actions("machineId eq " + api::odata_string(l.machine_id));
            if (stopping_) co_return;
            if (!actions) {
                failed(actions.error());
                break;
            }
            d.on_lookup(l.session_id, *actions, sent);
        }
        const auto since = d.poll_since();
        if (since && !backoff && unix_now() >= last_poll + d.poll_every()) {
            const Millis sent = unix_now();
            auto actions = co_await t->api->list_actions(
                "creationDateTimeUtc ge " + utc_iso8601(*since - t->cfg.clock_skew.count()));
            if (stopping_) co_return;
            last_poll = sent;
            if (actions) {
                d.on_listing(*actions, sent);
                last_error.clear();
                t->last_poll = unix_now();
            } else {
                failed(actions.error());
            }
        }
        if (!backoff && d.health_check_due(unix_now())) {
            std::vector<api::Machine> offline;
            for (const std::string& filter : d.offline_filters(unix_now())) {
                auto listed = co_await t->api->list_machines(filter);
                if (stopping_) co_return;
                if (!listed) {
                    failed(listed.error());
                    break;
                }
                offline.insert(offline.end(), std::make_move_iterator(listed->begin()),
                               std::make_move_iterator(listed->end()));
            }
            if (backoff)
                d.health_check_failed(unix_now());
            else
                d.on_health(offline, unix_now());
        }
        for (const Cancel& c : d.sweep(unix_now())) {
            auto r = co_await t->api->cancel(c.action_id, "lrsched: " + c.reason);
            if (!r) spdlog::warn("tenant={} {}", t->cfg.name, r.error().message);
        }
        // The operator's cancels (lrsched cancel), through the read budget;
        // the listing then follows each action to its end.
        for (Cancel& c : d.take_cancels()) {
            auto r = co_await t->api->cancel(c.action_id, "lrsched: " + c.reason);
            if (stopping_) co_return;
            if (r) continue;
            spdlog::warn("tenant={} {}", t->cfg.name, r.error().message);
            d.cancel_failed(std::move(c));
        }
        wake_dispatch_if_needed(t);
        if (d.take_collect_wake()) t->collect.notify();
        std::optional<Millis> wake = d.next_timed_work();
        if (const auto health = d.next_health_check())
            wake = std::min(wake.value_or(*health), *health);
        if (d.poll_since()) {
            const Millis next_poll = last_poll + d.poll_every();
            wake = std::min(wake.value_or(next_poll), next_poll);
        }
        if (backoff) wake = std::max(wake.value_or(*backoff), *backoff);
        co_await t->track.wait(wake);
    }
}

}  // namespace lrsched::runtime
