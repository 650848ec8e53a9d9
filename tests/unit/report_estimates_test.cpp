// What store::Report reads for estimates (issue 11, item 4): the measured
// session times (the job's last finished runs, else the tenant's recent
// sessions, else none) and an unfinished run's backlog, from data written
// through the real Store; and the plans of those queries (seeks, never a
// scan of sessions).
#include "store/database_path.hpp"
#include "store/report.hpp"
#include "support/estimate_fixture.hpp"
#include "support/query_plan.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using lrsched::store::Report;
using lrsched::store::SampleSource;
using lrsched::store::SessionSamples;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::end_session;
using lrsched::test::finish_run;
using lrsched::test::plan_text;
using lrsched::test::query_plan;
using lrsched::test::queue_looking;
using lrsched::test::SqlRecorder;
using lrsched::test::TempDir;
using lrsched::test::tenant_run;
using lrsched::test::unwrap;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

std::vector<std::int64_t> sorted(std::vector<std::int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// A finished run of `job` whose online sessions took `online` ms each and
// offline-looking ones `offline` ms (expired: waiting out the queue).
std::int64_t finished(Store& s,
                      const std::string& job,
                      const std::string& tenant,
                      std::int64_t at,
                      const std::vector<std::int64_t>& online,
                      const std::vector<std::int64_t>& offline = {}) {
    const auto run = tenant_run(s, job, tenant, at);
    const auto on = queue_looking(s, run, static_cast<int>(online.size()), false, "on", at);
    const auto off = queue_looking(s, run, static_cast<int>(offline.size()), true, "off", at);
    for (std::size_t i = 0; i < on.size(); ++i)
        end_session(s, on[i], SessionState::done, at + 1'000, at + 1'000 + online[i]);
    for (std::size_t i = 0; i < off.size(); ++i)
        end_session(s, off[i], SessionState::expired, at + 1'000, at + 1'000 + offline[i]);
    finish_run(s, run, at + 100'000);
    return run;
}

struct Site {
    TempDir dir;
    std::string path = lrsched::store::database_path(dir.path().string());
};

}  // namespace

TEST_CASE("samples: the job's last 3 finished runs, online and offline apart") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    finished(s, "sweep", "contoso", kNow, {90'000});  // the 4th newest: left out
    finished(s, "sweep", "contoso", kNow + 1'000'000, {40'000, 42'000});
    finished(s, "sweep", "contoso", kNow + 2'000'000, {41'000}, {15'000});
    finished(s, "sweep", "contoso", kNow + 3'000'000, {43'000});
    // An unfinished run's sessions are not the job's measurement.
    const auto current = tenant_run(s, "sweep", "contoso", kNow + 4'000'000);
    const auto ids = queue_looking(s, current, 1, false, "cur", kNow + 4'000'000);
    end_session(s, ids[0], SessionState::done, kNow + 4'000'000, kNow + 4'500'000);
    // Another job of the tenant does not count while the job has its own.
    finished(s, "other", "contoso", kNow, {5'000});

    auto report = unwrap(Report::open(site.path));
    const SessionSamples samples = unwrap(report.session_samples("sweep", "contoso"));
    CHECK(samples.source == SampleSource::job_runs);
    CHECK(samples.runs == 3);
    CHECK(sorted(samples.online) == std::vector<std::int64_t>{40'000, 41'000, 42'000, 43'000});
    CHECK(samples.offline == std::vector<std::int64_t>{15'000});

    // status reads the same figures for the job's unfinished run.
    const auto status = unwrap(report.status({"contoso"}, std::string_view("sweep"), kNow));
    REQUIRE(status.jobs.size() == 1);
    REQUIRE(status.jobs[0].samples);
    CHECK(sorted(status.jobs[0].samples->online) == sorted(samples.online));
}

TEST_CASE("samples: failed sessions count only with results, expired ones only when offline") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    const auto run = tenant_run(s, "sweep", "contoso", kNow);
    const auto on = queue_looking(s, run, 4, false, "on", kNow);
    const auto off = queue_looking(s, run, 2, true, "off", kNow);
    end_session(s, on[0], SessionState::done, kNow, kNow + 10'000);
    end_session(s, on[1], SessionState::failed, kNow, kNow + 20'000, true);  // results: counts
    end_session(s, on[2], SessionState::failed, kNow, kNow + 1'000, false);  // none: left out
    end_session(s, on[3], SessionState::expired, kNow, kNow + 15'000);       // online: left out
    end_session(s, off[0], SessionState::expired, kNow, kNow + 15'000);
    end_session(s, off[1], SessionState::done, kNow, kNow + 7'000);
    finish_run(s, run, kNow + 30'000);

    auto report = unwrap(Report::open(site.path));
    const auto samples = unwrap(report.session_samples("sweep", "contoso"));
    CHECK(samples.source == SampleSource::job_runs);
    CHECK(samples.runs == 1);
    CHECK(sorted(samples.online) == std::vector<std::int64_t>{10'000, 20'000});
    CHECK(sorted(samples.offline) == std::vector<std::int64_t>{7'000, 15'000});
}

TEST_CASE("samples: a job without finished runs is measured by its tenant's last sessions") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    finished(s, "nightly", "contoso", kNow, {30'000, 32'000});
    finished(s, "elsewhere", "fabrikam", kNow, {999'000});  // another tenant
    // The job's own unfinished run already has a session done: the tenant's
    // recent sessions include it.
    const auto run = tenant_run(s, "sweep", "contoso", kNow + 500'000);
    const auto ids = queue_looking(s, run, 2, false, "cur", kNow + 500'000);
    end_session(s, ids[0], SessionState::done, kNow + 500'000, kNow + 534'000);

    auto report = unwrap(Report::open(site.path));
    const auto samples = unwrap(report.session_samples("sweep", "contoso"));
    CHECK(samples.source == SampleSource::tenant_sessions);
    CHECK(sorted(samples.online) == std::vector<std::int64_t>{30'000, 32'000, 34'000});

    // A job the store has never seen (plan before the daemon loaded it).
    CHECK(unwrap(report.session_samples("new-job", "contoso")).source ==
          SampleSource::tenant_sessions);
    // The job's runs count only under the tenant it is planned for.
    CHECK(unwrap(report.session_samples("elsewhere", "contoso")).source ==
          SampleSource::tenant_sessions);
}

TEST_CASE("samples: the tenant's last 200 sessions, newest runs first") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    finished(s, "old", "contoso", kNow, std::vector<std::int64_t>(50, 90'000));
    finished(s, "new", "contoso", kNow + 1'000'000, std::vector<std::int64_t>(180, 4'000));
    finished(s, "newer", "contoso", kNow + 2'000'000, std::vector<std::int64_t>(10, 5'000));

    auto report = unwrap(Report::open(site.path));
    const auto samples = unwrap(report.session_samples("planned", "contoso"));
    CHECK(samples.source == SampleSource::tenant_sessions);
    REQUIRE(samples.online.size() == 200);
    CHECK(std::count(samples.online.begin(), samples.online.end(), 5'000) == 10);
    CHECK(std::count(samples.online.begin(), samples.online.end(), 4'000) == 180);
    CHECK(std::count(samples.online.begin(), samples.online.end(), 90'000) == 10);
}

TEST_CASE("samples: nothing measured yet, and sessions never submitted measure nothing") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    const auto run = tenant_run(s, "sweep", "contoso", kNow);
    const auto ids = queue_looking(s, run, 3, false, "m", kNow);
    unwrap(s.transition(ids[0], SessionState::cancelled, {}, kNow + 5));
    unwrap(s.transition(ids[1], SessionState::submitting, {}, kNow + 5));
    unwrap(s.transition(ids[1], SessionState::not_found, {}, kNow + 9));

    auto report = unwrap(Report::open(site.path));
    const auto samples = unwrap(report.session_samples("sweep", "contoso"));
    CHECK(samples.source == SampleSource::none);
    CHECK(samples.online.empty());
    CHECK(samples.offline.empty());
}

TEST_CASE("backlog of an unfinished run: queued by looks, busy, in flight since submission") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    const auto run =
        tenant_run(s, "sweep", "contoso", kNow, R"({"retry":{"busy_every_ms":30000}})");
    const auto on = queue_looking(s, run, 5, false, "on", kNow);
    const auto off = queue_looking(s, run, 3, true, "off", kNow);
    unwrap(s.transition(on[0], SessionState::submitting, {}, kNow + 1'000));
    unwrap(s.transition(on[0], SessionState::running, {}, kNow + 1'500));
    unwrap(s.transition(off[0], SessionState::submitting, {}, kNow + 2'000));
    unwrap(s.transition(off[0], SessionState::pending, {}, kNow + 2'100));
    for (const auto& [id, wake] : {std::pair{on[1], kNow + 50'000}, {on[2], kNow + 80'000}}) {
        unwrap(s.transition(id, SessionState::submitting, {}, kNow + 3'000));
        lrsched::store::TransitionDetail busy;
        busy.not_before = wake;
        unwrap(s.transition(id, SessionState::busy, busy, kNow + 3'000));
    }

    auto report = unwrap(Report::open(site.path));
    const auto status = unwrap(report.status({"contoso"}, std::nullopt, kNow + 10'000));
    REQUIRE(status.jobs.size() == 1);
    const auto& latest = status.jobs[0].latest_run;
    REQUIRE(latest);
    REQUIRE(latest->backlog);
    const auto& b = *latest->backlog;
    CHECK(b.queued_online == 2);
    CHECK(b.queued_offline == 2);
    CHECK(b.busy_until == kNow + 80'000);
    CHECK(b.busy_every_ms == 30'000);
    REQUIRE(b.in_flight.size() == 2);
    const auto running = std::find_if(b.in_flight.begin(), b.in_flight.end(),
                                      [](const auto& f) { return !f.looks_offline; });
    REQUIRE(running != b.in_flight.end());
    CHECK(running->state == SessionState::running);
    CHECK(running->submitted_at == kNow + 1'000);
    const auto pending = std::find_if(b.in_flight.begin(), b.in_flight.end(),
                                      [](const auto& f) { return f.looks_offline; });
    REQUIRE(pending != b.in_flight.end());
    CHECK(pending->state == SessionState::pending);
    CHECK(pending->submitted_at == kNow + 2'000);
    // No measurement yet: the job's samples say so.
    REQUIRE(status.jobs[0].samples);
    CHECK(status.jobs[0].samples->source == SampleSource::none);
}

TEST_CASE("a finished latest run has no backlog and is not measured for an ETA") {
    Site site;
    auto s = unwrap(Store::open(site.path));
    finished(s, "sweep", "contoso", kNow, {4'000});
    auto report = unwrap(Report::open(site.path));
    const auto status = unwrap(report.status({"contoso"}, std::nullopt, kNow));
    REQUIRE(status.jobs.size() == 1);
    REQUIRE(status.jobs[0].latest_run);
    CHECK_FALSE(status.jobs[0].latest_run->backlog);
    CHECK_FALSE(status.jobs[0].samples);
}

TEST_CASE("the estimate's queries seek their indexes, never scan sessions or events") {
    SqlRecorder recorder;
    Site site;
    {
        auto s = unwrap(Store::open(site.path));
        for (int r = 0; r < 4; ++r)
            finished(s, "sweep", "contoso", kNow + r * 1'000'000, {4'000, 5'000}, {15'000});
        const auto run = tenant_run(s, "sweep", "contoso", kNow + 9'000'000);
        const auto ids = queue_looking(s, run, 3, false, "cur", kNow + 9'000'000);
        unwrap(s.transition(ids[0], SessionState::submitting, {}, kNow + 9'000'001));
    }
    recorder.clear();  // the store's own statements are tested elsewhere
    auto report = unwrap(Report::open(site.path));
    (void)unwrap(report.status({"contoso"}, std::nullopt, kNow + 9'500'000));
    (void)unwrap(report.session_samples("sweep", "contoso"));
    (void)unwrap(report.session_samples("new-job", "contoso"));

    std::vector<std::string> queries;
    for (const char* mark :
         {"s.submitted_at IS NOT NULL", "state = 'queued' GROUP BY looks_offline",
          "max(not_before) FROM sessions", "'running', 'collecting')"})
        for (const auto& sql : recorder.matching(mark))
            queries.push_back(sql);
    CHECK(queries.size() == 6);  // samples (3 end states), queued, busy, in flight
    for (const auto& sql : queries) {
        const auto plan = query_plan(site.path, sql);
        INFO("plan of " << sql << ":\n" << plan_text(plan));
        for (const auto& line : plan) {
            if (line.rfind("SCAN ", 0) != 0) continue;
            const std::string table = line.substr(5, line.find(' ', 5) - 5);
            const bool sessions_or_events =
                table == "sessions" || table == "s" || table == "session_events" || table == "e";
            CHECK_FALSE((sessions_or_events && line.find("INDEX") == std::string::npos));
        }
        CHECK(plan_text(plan).find("TEMP B-TREE") == std::string::npos);
        // One run's rows: the indexes that start with run_id.
        const bool per_run =
            plan_text(plan).find("sessions_by_run_state (run_id=?") != std::string::npos ||
            plan_text(plan).find("sessions_queued (run_id=?") != std::string::npos;
        CHECK(per_run);
    }
    // The runs are found by index too (the tenant's: its jobs, then runs_by_job
    // or the runs table newest first, bounded by LIMIT).
    for (const auto& sql : recorder.matching("FROM runs WHERE job_id")) {
        const auto plan = query_plan(site.path, sql);
        INFO("plan of " << sql << ":\n" << plan_text(plan));
        CHECK(plan_text(plan).find("runs_by_job") != std::string::npos);
    }
}
