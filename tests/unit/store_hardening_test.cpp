// What schema/005 keeps: a firing and its record in one transaction, one run
// per cron instant, the time a session's submission began, and a tenant's
// connection error with its first time.
#include "store/migrations.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using lrsched::store::Database;
using lrsched::store::NewRun;
using lrsched::store::NewSession;
using lrsched::store::OpenMode;
using lrsched::store::RunTrigger;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::store::TransitionDetail;
using lrsched::test::sample_job;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

std::string db_path(const TempDir& dir) {
    return (dir.path() / "lrsched.db").string();
}

std::int64_t count(Database& db, const std::string& sql) {
    auto s = unwrap(db.prepare(sql));
    REQUIRE(unwrap(s.step()));
    return s.column_int64(0);
}

NewRun cron_run(std::int64_t job_id, std::int64_t instant) {
    NewRun run;
    run.job_id = job_id;
    run.definition = R"({"frozen":true})";
    run.trigger = RunTrigger::cron;
    run.scheduled_for = instant;
    run.created_at = instant + 5;
    run.mark_fired = instant;
    return run;
}

}  // namespace

TEST_CASE("a cron firing records the run and the job's last firing in one commit") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t job_id = unwrap(store.upsert_job(sample_job("nightly")));
    const auto id = unwrap(store.create_run(cron_run(job_id, 60'000)));
    REQUIRE(id.has_value());
    const auto job = unwrap(store.find_job("nightly"));
    REQUIRE(job.has_value());
    CHECK(job->last_fired_at == 60'000);
    const auto run = unwrap(store.latest_run(job_id));
    REQUIRE(run.has_value());
    CHECK(run->id == *id);
    CHECK(run->scheduled_for == 60'000);
}

TEST_CASE("a second run for the same job and cron instant is refused, the firing still recorded") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t job_id = unwrap(store.upsert_job(sample_job("nightly")));
    const std::int64_t other_job = unwrap(store.upsert_job(sample_job("other")));
    REQUIRE(unwrap(store.create_run(cron_run(job_id, 60'000))).has_value());

    NewRun again = cron_run(job_id, 60'000);
    again.trigger = RunTrigger::catch_up;
    again.mark_fired = 120'000;
    CHECK_FALSE(unwrap(store.create_run(again)).has_value());
    CHECK(unwrap(store.find_job("nightly"))->last_fired_at == 120'000);

    // The same instant for another job, or a manual run, is no conflict.
    CHECK(unwrap(store.create_run(cron_run(other_job, 60'000))).has_value());
    NewRun manual;
    manual.job_id = job_id;
    manual.definition = "{}";
    manual.created_at = 70'000;
    CHECK(unwrap(store.create_run(manual)).has_value());
    CHECK(unwrap(store.create_run(manual)).has_value());

    Database db = unwrap(Database::open(db_path(dir), OpenMode::create_if_missing));
    CHECK(count(db, "SELECT count(*) FROM runs WHERE scheduled_for = 60000") == 2);
    // The unique index stands behind the store's own check.
    auto raw = db.exec(
        "INSERT INTO runs (job_id, definition, \"trigger\", scheduled_for, created_at) "
        "VALUES (" +
        std::to_string(job_id) + ", '{}', 'cron', 60000, 1)");
    CHECK_FALSE(raw.ok());
}

TEST_CASE("migration 005 keeps the first run's claim on an instant a crash fired twice") {
    TempDir dir;
    const auto& all = lrsched::store::embedded_migrations();
    REQUIRE(all.size() >= 5);
    {
        Database db = unwrap(Database::open(db_path(dir), OpenMode::create_if_missing));
        const std::vector<lrsched::store::Migration> up_to_4(all.begin(), all.begin() + 4);
        REQUIRE(unwrap(lrsched::store::apply_migrations(db, up_to_4)) == 4);
        REQUIRE(db.exec("INSERT INTO jobs (name, tenant, definition, source_path, "
                        "source_sha256, loaded_at) VALUES ('j', 't', '{}', '/j.yaml', 'x', 1)")
                    .ok());
        for (int i = 0; i < 2; ++i)
            REQUIRE(db.exec("INSERT INTO runs (job_id, definition, \"trigger\", scheduled_for, "
                            "created_at) VALUES (1, '{}', 'cron', 60000, 1)")
                        .ok());
        REQUIRE(db.exec("INSERT INTO sessions (run_id, machine_id, state, submissions, "
                        "created_at, updated_at) VALUES (1, 'm', 'pending', 1, 1, 9)")
                    .ok());
        REQUIRE(db.exec("INSERT INTO session_events (session_id, at, from_state, to_state, "
                        "attempt) VALUES (1, 7, 'queued', 'submitting', 1)")
                    .ok());
    }
    Store store = unwrap(Store::open(db_path(dir)));
    Database db = unwrap(Database::open(db_path(dir), OpenMode::create_if_missing));
    CHECK(count(db, "SELECT scheduled_for FROM runs WHERE id = 1") == 60'000);
    CHECK(count(db, "SELECT scheduled_for IS NULL FROM runs WHERE id = 2") == 1);
    // An old session's submission began at its last move into submitting.
    CHECK(unwrap(store.find_session(1))->submitted_at == 7);
}

TEST_CASE("entering submitting records when the submission began, the time outlives later moves") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t run_id = lrsched::test::make_run(store);
    REQUIRE(unwrap(store.queue_sessions(run_id, {NewSession{"m1", "h1", false}}, 1'000)) == 1);
    const auto queued = unwrap(store.sessions_of_run(run_id, SessionState::queued));
    REQUIRE(queued.size() == 1);
    const std::int64_t id = queued[0].id;
    CHECK_FALSE(queued[0].submitted_at.has_value());

    unwrap(store.begin_submit(id, "contoso", 5'000));
    TransitionDetail with_action = TransitionDetail::note("created");
    with_action.action_id = "a-1";
    unwrap(store.transition(id, SessionState::pending, with_action, 6'000));
    unwrap(store.transition(id, SessionState::running, {}, 90'000));
    unwrap(store.set_session_error(id, "nothing yet", 95'000));
    const auto row = unwrap(store.find_session(id));
    REQUIRE(row.has_value());
    CHECK(row->submitted_at == 5'000);
    CHECK(row->updated_at == 95'000);
    // When it entered running, whatever was recorded on it since.
    CHECK(unwrap(store.entered_state_at(id)) == 90'000);
    CHECK_FALSE(unwrap(store.entered_state_at(id + 1)).has_value());
}

TEST_CASE("a tenant's connection error keeps the time of the first failure until cleared") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    CHECK_FALSE(unwrap(store.tenant_state("contoso")).last_error.has_value());
    unwrap(store.set_tenant_error("contoso", "connection refused", 1'000));
    unwrap(store.set_tenant_error("contoso", "certificate expired", 9'000));
    auto t = unwrap(store.tenant_state("contoso"));
    CHECK(t.last_error == "certificate expired");
    CHECK(t.last_error_since == 1'000);
    unwrap(store.set_tenant_paused("contoso", true, "401 twice"));
    CHECK(unwrap(store.tenant_state("contoso")).last_error_since == 1'000);
    unwrap(store.set_tenant_error("contoso", std::nullopt, 12'000));
    t = unwrap(store.tenant_state("contoso"));
    CHECK_FALSE(t.last_error.has_value());
    CHECK_FALSE(t.last_error_since.has_value());
    CHECK(t.paused);
}
