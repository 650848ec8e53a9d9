// Helpers for tests of the measured session times (issue 11): runs whose
// sessions were submitted and ended at chosen instants, written through the
// store's own legal transitions, as the daemon writes them.
#pragma once

#include "store/store.hpp"
#include "support/report_fixture.hpp"
#include "support/store_fixture.hpp"
#include "support/unwrap.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lrsched::test {

// A new run of `job` under `tenant` (the job created or updated), with
// `definition` frozen into it.
inline std::int64_t tenant_run(store::Store& s,
                               const std::string& job,
                               const std::string& tenant,
                               std::int64_t created_at,
                               const std::string& definition = "{}") {
    auto row = sample_job(job);
    row.tenant = tenant;
    store::NewRun run;
    run.job_id = unwrap(s.upsert_job(row));
    run.definition = definition;
    run.created_at = created_at;
    const auto id = unwrap(s.create_run(run));
    REQUIRE(id.has_value());
    return *id;
}

// Queues `n` sessions in `run`, offline-looking or not; their ids in order.
inline std::vector<std::int64_t> queue_looking(store::Store& s,
                                               std::int64_t run,
                                               int n,
                                               bool offline,
                                               const std::string& prefix,
                                               std::int64_t now) {
    return queue(s, run, n, prefix, now, offline);
}

// Submits a queued session at `submit_at` and ends it in `end` (done,
// failed, expired) at `end_at`; a failed one with `with_results` gets an
// artifact, as a collection that stored some results would leave.
inline void end_session(store::Store& s,
                        std::int64_t id,
                        store::SessionState end,
                        std::int64_t submit_at,
                        std::int64_t end_at,
                        bool with_results = false) {
    using S = store::SessionState;
    unwrap(s.transition(id, S::submitting, {}, submit_at));
    if (end == S::expired) {
        unwrap(s.transition(id, S::pending, {}, submit_at));
        unwrap(s.transition(id, S::expired, {}, end_at));
        return;
    }
    store::TransitionDetail action;
    action.action_id = "action-" + std::to_string(id);
    unwrap(s.transition(id, S::running, action, submit_at));
    unwrap(s.transition(id, S::collecting, {}, end_at));
    if (with_results) {
        store::ArtifactRow a;
        a.session_id = id;
        a.action_id = *action.action_id;
        a.command_index = 0;
        a.command_type = "GetFile";
        a.remote = "C:\\x.log";
        a.file = "m/0-GetFile-x.log.zip";
        a.bytes = 10;
        a.sha256 = std::string(64, 'b');
        a.downloaded_at = end_at;
        a.action_status = "Failed";
        unwrap(s.add_artifact(a));
    }
    unwrap(s.transition(id, end, {}, end_at));
}

// Marks the run resolved and finished (every session must be terminal).
inline void finish_run(store::Store& s, std::int64_t run, std::int64_t now) {
    unwrap(s.mark_run_resolved(run, std::nullopt, now));
    REQUIRE(unwrap(s.finish_run_if_done(run, now)));
}

}  // namespace lrsched::test
