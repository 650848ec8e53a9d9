// A Dispatcher over a real store file, with jobs parsed from YAML and runs
// queued as the daemon queues them, and helpers that play the API's answers
// at chosen instants. No sockets, no clock.
#pragma once

#include "api/mde.hpp"
#include "common/diagnostic.hpp"
#include "config/config.hpp"
#include "dispatch/dispatcher.hpp"
#include "jobs/job_parser.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace lrsched::test {

inline config::Tenant dispatch_tenant() {
    config::Tenant t;
    t.name = "contoso";
    t.limits.submit_rate = {3, std::chrono::milliseconds(1'000)};
    t.limits.concurrent_sessions = 2;
    t.limits.offline_slots = 1;
    t.limits.queue_expiry = std::chrono::milliseconds(60'000);
    t.limits.runscript_timeout = std::chrono::milliseconds(10'000);
    t.limits.read_rate = {{1'000, std::chrono::milliseconds(10'000)}};
    t.poll_interval = std::chrono::milliseconds(1'000);
    t.listing_lag = std::chrono::milliseconds(4'000);
    return t;
}

// "0000...<i>": a valid 40-hex machine id.
inline std::string machine_id(int i) {
    std::string s = std::to_string(i);
    return std::string(40 - s.size(), '0') + s;
}

inline std::string job_yaml(int priority, const std::string& extra = "") {
    return "targets:\n  tags: [all]\ncommands:\n  - GetFile: 'C:\\x.log'\npriority: " +
           std::to_string(priority) + "\nretry: {busy_every: 5s, expired: 1}\n" + extra;
}

struct DispatchFixture {
    TempDir dir;
    config::Tenant tenant = dispatch_tenant();
    store::Store store = unwrap(store::Store::open((dir.path() / "lrsched.db").string()));
    std::unique_ptr<dispatch::Dispatcher> d;
    std::mt19937_64 rng{42};  // the dispatcher's jitter draws
    int next_action = 1;

    DispatchFixture() { reload(0); }

    // A new Dispatcher over the same store, as after a restart.
    void reload(Millis now) {
        d = std::make_unique<dispatch::Dispatcher>(store, tenant, [this] {
            return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        });
        unwrap(d->load(now));
    }

    // A job and a resolved run of it with one session per (machine, offline).
    std::int64_t add_run(const std::string& name,
                         const std::string& yaml,
                         const std::vector<std::pair<int, bool>>& machines,
                         Millis now) {
        Diagnostics diags;
        jobs::JobContext ctx{dir.path().string(), {"contoso"}};
        auto job = jobs::parse_job(yaml, (dir.path() / (name + ".yaml")).string(), ctx, diags);
        INFO(diags.to_string());
        REQUIRE(job);
        store::JobRow row;
        row.name = name;
        row.tenant = "contoso";
        row.definition = jobs::to_json(*job).dump();
        row.source_path = job->source_path;
        row.source_sha256 = std::string(64, 'a');
        row.loaded_at = now;
        store::NewRun run;
        run.job_id = unwrap(store.upsert_job(row));
        run.definition = row.definition;
        run.created_at = now;
        if (job->deadline) run.deadline_at = now + job->deadline->count();
        const std::int64_t run_id = unwrap(store.create_run(run)).value();
        std::vector<store::NewSession> sessions;
        for (const auto& [i, offline] : machines)
            sessions.push_back({machine_id(i), "m" + std::to_string(i), offline});
        unwrap(store.queue_sessions(run_id, sessions, now));
        unwrap(store.mark_run_resolved(run_id, std::nullopt, now));
        auto runs = unwrap(store.unfinished_runs());
        for (const auto& r : runs)
            if (r.run.id == run_id) unwrap(d->add_run(r));
        return run_id;
    }

    // next(), which must be a submit.
    dispatch::Submit submit(Millis now) {
        auto n = d->next(now);
        if (auto* idle = std::get_if<dispatch::Idle>(&n)) FAIL("idle: " << idle->why);
        return std::get<dispatch::Submit>(n);
    }
    // next(), which must be idle.
    dispatch::Idle idle(Millis now) {
        auto n = d->next(now);
        if (std::holds_alternative<dispatch::Submit>(n))
            FAIL("submitted session " << std::get<dispatch::Submit>(n).session_id);
        return std::get<dispatch::Idle>(n);
    }

    nlohmann::json action_json(const dispatch::Submit& s, const std::string& status) {
        const nlohmann::json body = nlohmann::json::parse(s.body);
        return {{"id", "action-" + std::to_string(s.session_id) + "-" +
                           s.tag.substr(s.tag.rfind(':') + 1)},
                {"type", "LiveResponse"},
                {"status", status},
                {"machineId", s.machine_id},
                {"requestorComment", body["Comment"]},
                {"commands", nlohmann::json::array()}};
    }
    api::MachineAction action(const dispatch::Submit& s, const std::string& status) {
        return unwrap(api::parse_machine_action(action_json(s, status).dump()));
    }
    dispatch::FollowUp answer(const dispatch::Submit& s,
                              int status,
                              std::string body,
                              Millis now,
                              std::string retry_after = "") {
        dispatch::SubmitAnswer a;
        a.status = status;
        a.body = std::move(body);
        a.retry_after = std::move(retry_after);
        return d->submit_answered(s, a, now);
    }
    dispatch::FollowUp created(const dispatch::Submit& s, Millis now) {
        return answer(s, 201, action_json(s, "Pending").dump(), now);
    }
    dispatch::FollowUp lost(const dispatch::Submit& s, Millis now) {
        dispatch::SubmitAnswer a;
        a.net_error = Error{Errc::no_response, "connection reset"};
        return d->submit_answered(s, a, now);
    }

    // Plays the collect loop: every collection due is reported stored.
    std::size_t collect_all(Millis now) {
        const auto due = d->collections_due(now);
        for (const auto& c : due)
            d->collected(c.session_id, {}, now);
        return due.size();
    }

    store::SessionState state(std::int64_t session_id) {
        return unwrap(store.find_session(session_id))->state;
    }
};

}  // namespace lrsched::test
