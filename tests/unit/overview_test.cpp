// The read model (view/): its JSON document and its log summary, built from
// hand-made reports (the store's part is tested through `status` in
// cli_report_test.cpp and the e2e tests).
#include "view/overview.hpp"

#include "view/live.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using lrsched::view::Live;
using lrsched::view::Overview;
using lrsched::view::TenantLive;

namespace {

Overview one_job_overview() {
    Overview o;
    o.status.now = 1'700'000'000'000;
    lrsched::store::JobReport job;
    job.name = "sweep";
    job.tenant = "contoso";
    o.status.jobs.push_back(job);
    o.etas.emplace_back();
    lrsched::store::TenantReport tenant;
    tenant.name = "contoso";
    tenant.running = 4;
    o.status.tenants.push_back(tenant);
    return o;
}

TenantLive busy_tenant() {
    TenantLive t;
    t.name = "contoso";
    t.slots_held = 3;
    t.slots_held_offline = 1;
    t.slot_limit = 25;
    t.offline_slots = 5;
    t.sessions_tracked = 3;
    t.runs = 1;
    t.reads = 12;
    t.token_fetches = 1;
    return t;
}

}  // namespace

TEST_CASE("the read model's JSON is status --json, with the daemon's figures only when given") {
    Overview o = one_job_overview();
    const nlohmann::json stored = lrsched::view::to_json(o);
    CHECK(stored["jobs"]["sweep"]["tenant"] == "contoso");
    CHECK(stored["jobs"]["sweep"]["latest_run"].is_null());
    CHECK(stored["tenants"]["contoso"]["running"] == 4);
    CHECK(stored["now"] == "2023-11-14T22:13:20.000Z");
    CHECK_FALSE(stored.contains("daemon"));

    Live live;
    live.at = o.status.now;
    live.started_at = o.status.now - 60'000;
    live.loops_running = 5;
    live.tenants.push_back(busy_tenant());
    o.live = live;
    const nlohmann::json both = lrsched::view::to_json(o);
    CHECK(both["jobs"] == stored["jobs"]);
    CHECK(both["daemon"]["loops_running"] == 5);
    CHECK(both["daemon"]["started_at"] == "2023-11-14T22:12:20.000Z");
    const auto& t = both["daemon"]["tenants"]["contoso"];
    CHECK(t["slots_held"] == 3);
    CHECK(t["slots_held_offline"] == 1);
    CHECK(t["reads"] == 12);
    CHECK(t["unreachable"] == false);
    CHECK(t["retry_at"].is_null());
}

TEST_CASE("a tenant's live summary names its slots, and why it is paused or unreachable") {
    TenantLive t = busy_tenant();
    CHECK(lrsched::view::summary(t) ==
          "reads=12 token_fetches=1 slots=3/25 (offline 1/5) tracked=3 runs=1 throttled_submit=0 "
          "throttled_read=0 throttled_other=0 results=0 result_bytes=0");
    t.throttled["read_window"] = 2;
    t.result_files = 4;
    t.result_bytes = 5120;
    CHECK(lrsched::view::summary(t).find(" throttled_read=2 throttled_other=0 results=4 "
                                         "result_bytes=5120") != std::string::npos);
    t.unreachable = true;
    t.unreachable_since = 1'700'000'000'000;
    t.last_error = "connection refused";
    CHECK(lrsched::view::summary(t).ends_with(
        " unreachable since 2023-11-14T22:13:20Z: connection refused"));
}
