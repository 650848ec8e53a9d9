// The text of `status` and `sessions` (view/status_text.hpp), built from
// hand-made reports: the progress bar, the slot use from the daemon's live
// figures, and a job that never ran. The store's side is covered through the
// real binary in cli_report_test.cpp.
#include "view/status_text.hpp"

#include "sessions/session_state.hpp"

#include <doctest/doctest.h>

using lrsched::sessions::SessionState;
using lrsched::view::Overview;
using lrsched::view::progress_bar;
using lrsched::view::status_text;

namespace {

Overview sweep_overview() {
    Overview o;
    o.status.now = 1'700'000'000'000;
    lrsched::store::JobReport job;
    job.name = "sweep";
    job.tenant = "contoso";
    lrsched::store::RunReport run;
    run.id = 3;
    run.created_at = o.status.now - 60'000;
    for (const SessionState s : lrsched::sessions::kAllStates)
        run.counts[s] = 0;
    run.counts[SessionState::done] = 140;
    run.counts[SessionState::queued] = 260;
    job.latest_run = run;
    o.status.jobs.push_back(job);
    o.etas.push_back({{}, {}, "unknown"});
    lrsched::store::TenantReport tenant;
    tenant.name = "contoso";
    o.status.tenants.push_back(tenant);
    return o;
}

lrsched::config::Config one_tenant_config() {
    lrsched::config::Config cfg;
    lrsched::config::Tenant t;
    t.name = "contoso";
    cfg.tenants.push_back(t);
    return cfg;
}

}  // namespace

TEST_CASE("a progress bar rounds down and is full only when every session finished") {
    CHECK(progress_bar(140, 400) == "[#######.............]  35%  140/400");
    CHECK(progress_bar(0, 0) == "[....................]   0%  0/0");
    CHECK(progress_bar(399, 400) == "[###################.]  99%  399/400");
    CHECK(progress_bar(400, 400) == "[####################] 100%  400/400");
    CHECK(progress_bar(5, 3) == "[####################] 100%  3/3");  // never past full
}

TEST_CASE("status text has a progress bar per run and slot use only with the daemon's figures") {
    Overview o = sweep_overview();
    const auto cfg = one_tenant_config();
    const std::string stored = status_text(o, cfg);
    CAPTURE(stored);
    CHECK(stored.find("  progress: 140 of 400 sessions finished\n"
                      "  [#######.............]  35%  140/400\n") != std::string::npos);
    CHECK(stored.find("  eta: unknown\n") != std::string::npos);
    CHECK(stored.find("slots") == std::string::npos);

    lrsched::view::Live live;
    lrsched::view::TenantLive t;
    t.name = "contoso";
    t.slots_held = 12;
    t.slot_limit = 25;
    t.slots_held_offline = 2;
    t.offline_slots = 5;
    live.tenants.push_back(t);
    o.live = live;
    const std::string with_live = status_text(o, cfg);
    CAPTURE(with_live);
    CHECK(with_live.find("submitting 0; slots 12/25 (offline 2/5)\n") != std::string::npos);
}

TEST_CASE("sessions text says when the job has not run yet") {
    lrsched::store::SessionsReport listed;
    listed.job.name = "triage";
    CHECK(lrsched::view::sessions_text(listed) == "job triage has not run yet\n");
}
