// store::Report, the read-only queries behind `status` and `sessions`:
// figures checked against data written through the real Store, the
// read-only connection, and a reader beside a writer in WAL mode.
#include "store/report.hpp"

#include "store/database_path.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"
#include "support/report_fixture.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

using lrsched::Errc;
using lrsched::store::ApiCallKind;
using lrsched::store::Database;
using lrsched::store::database_path;
using lrsched::store::JobReport;
using lrsched::store::OpenMode;
using lrsched::store::Report;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::store::TenantReport;
using lrsched::store::Transaction;
using lrsched::test::make_run;
using lrsched::test::populate;
using lrsched::test::sample_job;
using lrsched::test::TempDir;
using lrsched::test::unwrap;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

const JobReport& job_named(const lrsched::store::StatusReport& r, const std::string& name) {
    for (const auto& j : r.jobs) {
        if (j.name == name) return j;
    }
    FAIL("no job " << name << " in the report");
    return r.jobs.front();
}

const TenantReport& tenant_named(const lrsched::store::StatusReport& r, const std::string& name) {
    for (const auto& t : r.tenants) {
        if (t.name == name) return t;
    }
    FAIL("no tenant " << name << " in the report");
    return r.tenants.front();
}

std::vector<std::string> job_names(const lrsched::store::StatusReport& r) {
    std::vector<std::string> out;
    for (const auto& j : r.jobs)
        out.push_back(j.name);
    return out;
}

std::int64_t make_job_run(Store& s, const std::string& name, const std::string& tenant) {
    auto job = sample_job(name);
    job.tenant = tenant;
    lrsched::store::NewRun run;
    run.job_id = unwrap(s.upsert_job(job));
    run.definition = "{}";
    run.created_at = kNow - 5'000;
    return unwrap(s.create_run(run)).value();
}

}  // namespace

TEST_CASE("the database lives at <state_dir>/lrsched.db") {
    CHECK(database_path("/var/lib/lrsched") == "/var/lib/lrsched/lrsched.db");
    CHECK(database_path("/var/lib/lrsched/") == "/var/lib/lrsched/lrsched.db");
}

TEST_CASE("status counts every state of the latest run, zeros included") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    const auto old_run = make_run(s, "sweep");
    populate(s, old_run, {{SessionState::done, 3}}, "old", kNow);
    const auto run = make_run(s, "sweep");
    populate(s, run,
             {{SessionState::queued, 4},
              {SessionState::busy, 1},
              {SessionState::running, 2},
              {SessionState::done, 5},
              {SessionState::failed, 1},
              {SessionState::expired, 1},
              {SessionState::gave_up, 2}},
             "new", kNow);

    auto report = unwrap(Report::open(path));
    const auto status = unwrap(report.status({"contoso"}, std::nullopt, kNow));
    CHECK(status.now == kNow);
    const auto& job = job_named(status, "sweep");
    CHECK(job.tenant == "contoso");
    REQUIRE(job.latest_run.has_value());
    const auto& latest = *job.latest_run;
    CHECK(latest.id == run);
    CHECK(latest.trigger == lrsched::store::RunTrigger::manual);
    CHECK(latest.created_at == 2'000);
    CHECK_FALSE(latest.finished_at.has_value());
    CHECK(latest.counts.size() == 14);
    CHECK(latest.counts.at(SessionState::queued) == 4);
    CHECK(latest.counts.at(SessionState::busy) == 1);
    CHECK(latest.counts.at(SessionState::running) == 2);
    CHECK(latest.counts.at(SessionState::done) == 5);
    CHECK(latest.counts.at(SessionState::failed) == 1);
    CHECK(latest.counts.at(SessionState::expired) == 1);
    CHECK(latest.counts.at(SessionState::gave_up) == 2);
    CHECK(latest.counts.at(SessionState::pending) == 0);
    CHECK(latest.counts.at(SessionState::withdrawn) == 0);
    CHECK(latest.total() == 16);
    CHECK(latest.finished() == 9);  // done, failed, expired, gave_up
}

TEST_CASE("a deleted job is shown only while it has runs, a job without runs has none") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    auto gone = sample_job("gone");
    gone.deleted_at = 3'000;
    unwrap(s.upsert_job(gone));
    make_run(s, "kept");
    auto kept = sample_job("kept");
    kept.deleted_at = 3'000;
    unwrap(s.upsert_job(kept));
    unwrap(s.upsert_job(sample_job("fresh")));
    unwrap(s.set_job_error("fresh", "commands[0]: unknown script", 4'000));
    unwrap(s.set_job_paused("fresh", true, "operator"));

    auto report = unwrap(Report::open(path));
    const auto status = unwrap(report.status({}, std::nullopt, kNow));
    CHECK(job_names(status) == std::vector<std::string>{"fresh", "kept"});
    const auto& fresh = job_named(status, "fresh");
    CHECK_FALSE(fresh.latest_run.has_value());
    CHECK(fresh.paused);
    CHECK(fresh.paused_reason == "operator");
    CHECK(fresh.last_error == "commands[0]: unknown script");
    CHECK(fresh.last_error_at == 4'000);
    CHECK(job_named(status, "kept").deleted_at == 3'000);

    const auto one = report.status({}, std::string_view("gone"), kNow);
    REQUIRE_FALSE(one.ok());
    CHECK(one.error().code == Errc::not_found);
    CHECK(one.error().message.find("'gone'") != std::string::npos);
}

TEST_CASE("status JOB shows that job and its tenant alone") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    make_job_run(s, "a", "contoso");
    make_job_run(s, "b", "fabrikam");
    auto report = unwrap(Report::open(path));
    const auto status = unwrap(report.status({"contoso", "fabrikam"}, std::string_view("b"), kNow));
    CHECK(job_names(status) == std::vector<std::string>{"b"});
    REQUIRE(status.tenants.size() == 1);
    CHECK(status.tenants[0].name == "fabrikam");
    CHECK(report.status({}, std::string_view("nope"), kNow).error().code == Errc::not_found);
}

TEST_CASE("tenant figures: calls in the last minute, in-flight sessions of all runs, pauses") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    const auto a1 = make_job_run(s, "a", "contoso");
    populate(s, a1, {{SessionState::running, 1}, {SessionState::pending, 2}}, "a1", kNow);
    const auto a2 = make_job_run(s, "a", "contoso");
    populate(s, a2, {{SessionState::running, 2}, {SessionState::submitting, 1}}, "a2", kNow);
    const auto c1 = make_job_run(s, "c", "contoso");
    populate(s, c1, {{SessionState::running, 1}, {SessionState::done, 4}}, "c1", kNow);
    const auto f1 = make_job_run(s, "f", "fabrikam");
    populate(s, f1, {{SessionState::running, 7}}, "f1", kNow);

    // The window is [now - 60 s, now]: its first millisecond counts, the one before does not.
    unwrap(s.begin_api_call("contoso", ApiCallKind::submit, kNow - 60'001));
    unwrap(s.begin_api_call("contoso", ApiCallKind::submit, kNow - 60'000));
    const auto ended = unwrap(s.begin_api_call("contoso", ApiCallKind::submit, kNow - 10));
    unwrap(s.end_api_call(ended, kNow - 5));
    for (int i = 0; i < 3; ++i)
        unwrap(s.begin_api_call("contoso", ApiCallKind::read, kNow - 1'000));
    unwrap(s.begin_api_call("fabrikam", ApiCallKind::submit, kNow - 1'000));
    unwrap(s.set_tenant_paused("fabrikam", true, "second 401: check the client secret"));
    unwrap(s.set_tenant_throttled_until("contoso", kNow + 30'000));
    unwrap(s.set_tenant_paused("legacy", true, "removed from the configuration"));

    auto report = unwrap(Report::open(path));
    const auto status = unwrap(report.status({"contoso", "idle"}, std::nullopt, kNow));
    std::vector<std::string> names;
    for (const auto& t : status.tenants)
        names.push_back(t.name);
    CHECK(names == std::vector<std::string>{"contoso", "fabrikam", "idle", "legacy"});

    const auto& contoso = tenant_named(status, "contoso");
    CHECK(contoso.submit_calls_last_minute == 2);
    CHECK(contoso.read_calls_last_minute == 3);
    CHECK(contoso.running == 4);
    CHECK(contoso.pending == 2);
    CHECK(contoso.submitting == 1);
    CHECK_FALSE(contoso.paused);
    CHECK(contoso.throttled_until == kNow + 30'000);

    const auto& fabrikam = tenant_named(status, "fabrikam");
    CHECK(fabrikam.submit_calls_last_minute == 1);
    CHECK(fabrikam.running == 7);
    CHECK(fabrikam.paused);
    CHECK(fabrikam.paused_reason == "second 401: check the client secret");

    const auto& idle = tenant_named(status, "idle");
    CHECK(idle.submit_calls_last_minute == 0);
    CHECK(idle.running == 0);
    CHECK_FALSE(idle.paused);
    CHECK(tenant_named(status, "legacy").paused);
}

TEST_CASE("sessions lists the latest run's sessions with every field, filtered by state") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    const auto old_run = make_run(s, "sweep");
    populate(s, old_run, {{SessionState::failed, 2}}, "old", kNow);
    const auto run = make_run(s, "sweep");
    const auto ids =
        populate(s, run, {{SessionState::queued, 2}, {SessionState::running, 1}}, "new", kNow);
    lrsched::store::TransitionDetail failed;
    failed.action_id = "act-7";
    failed.exit_code = 3;
    failed.error = "script exited with 3";
    unwrap(s.transition(ids.back(), SessionState::collecting, {}, kNow + 1));
    unwrap(s.transition(ids.back(), SessionState::failed, failed, kNow + 2));

    auto report = unwrap(Report::open(path));
    const auto all = unwrap(report.sessions("sweep", std::nullopt));
    CHECK(all.job.name == "sweep");
    REQUIRE(all.job.latest_run.has_value());
    CHECK(all.job.latest_run->id == run);
    REQUIRE(all.sessions.size() == 3);
    const auto& last = all.sessions.back();
    CHECK(last.id == ids.back());
    CHECK(last.run_id == run);
    CHECK(last.machine_id == "new" + std::string(36, '0') + "2");
    CHECK(last.computer_dns_name == "new2.corp");
    CHECK(last.state == SessionState::failed);
    CHECK(last.action_id == "act-7");
    CHECK(last.exit_code == 3);
    CHECK(last.last_error == "script exited with 3");
    CHECK(last.submissions == 1);
    CHECK(last.attempt == 1);
    CHECK(last.updated_at == kNow + 2);

    const auto queued = unwrap(report.sessions("sweep", SessionState::queued));
    CHECK(queued.sessions.size() == 2);
    CHECK(unwrap(report.sessions("sweep", SessionState::done)).sessions.empty());
    CHECK(report.sessions("nope", std::nullopt).error().code == Errc::not_found);
}

TEST_CASE("a missing database is reported, never created") {
    TempDir dir;
    const auto path = database_path((dir.path() / "state").string());
    const auto r = Report::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    CHECK(r.error().message == "no database at " + path + ": has the daemon run yet?");
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(fs::exists(dir.path() / "state"));
}

TEST_CASE("a database newer than this binary is refused, and so is one without the schema") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    { unwrap(Store::open(path)); }
    {
        auto db = unwrap(Database::open(path, OpenMode::must_exist));
        const auto newer = lrsched::store::embedded_migrations().size() + 1;
        unwrap(db.exec("PRAGMA user_version = " + std::to_string(newer)));
    }
    auto r = Report::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::schema_mismatch);
    CHECK(r.error().message.find("newer than this lrsched knows") != std::string::npos);

    const auto bare = (dir.path() / "bare.db").string();
    { unwrap(Database::open(bare, OpenMode::create_if_missing)); }
    r = Report::open(bare);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::schema_mismatch);
    CHECK(r.error().message.find("start the daemon once") != std::string::npos);
}

TEST_CASE("a report leaves the database and its WAL file as they were") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    populate(s, make_run(s), {{SessionState::running, 2}}, "m", kNow);

    const auto wal = path + "-wal";
    const auto size = fs::file_size(path);
    const auto wal_size = fs::file_size(wal);
    const auto mtime = fs::last_write_time(path);
    const auto wal_mtime = fs::last_write_time(wal);
    {
        auto report = unwrap(Report::open(path));
        unwrap(report.status({"contoso"}, std::nullopt, kNow));
        unwrap(report.sessions("sweep", std::nullopt));
    }
    CHECK(fs::file_size(path) == size);
    CHECK(fs::file_size(wal) == wal_size);
    CHECK(fs::last_write_time(path) == mtime);
    CHECK(fs::last_write_time(wal) == wal_mtime);
}

TEST_CASE("a report is not blocked by an open write transaction and reads what was committed") {
    TempDir dir;
    const auto path = database_path(dir.path().string());
    auto s = unwrap(Store::open(path));
    populate(s, make_run(s), {{SessionState::queued, 3}}, "m", kNow);

    // Another writer holds the write lock with an uncommitted change. With a
    // blocked reader the report would fail after its 2 s busy timeout.
    auto writer = unwrap(Database::open(path, OpenMode::must_exist));
    auto tx = unwrap(Transaction::begin(writer));
    unwrap(writer.exec("UPDATE jobs SET paused = 1"));
    unwrap(writer.exec("UPDATE sessions SET state = 'cancelled'"));
    auto report = unwrap(Report::open(path));
    const auto status = unwrap(report.status({}, std::nullopt, kNow));
    const auto& job = job_named(status, "sweep");
    CHECK_FALSE(job.paused);  // the last committed state
    CHECK(job.latest_run->counts.at(SessionState::queued) == 3);
}
