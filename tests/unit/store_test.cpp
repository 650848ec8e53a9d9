#include "store/store.hpp"

#include "store/migrations.hpp"
#include "store/sqlite.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using lrsched::Errc;
using lrsched::store::ArtifactRow;
using lrsched::store::Database;
using lrsched::store::NewRun;
using lrsched::store::NewSession;
using lrsched::store::OpenMode;
using lrsched::store::RunTrigger;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::make_run;
using lrsched::test::sample_job;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

std::string db_path(const TempDir& dir) {
    return (dir.path() / "lrsched.db").string();
}

std::vector<NewSession> machines(int n, const std::string& prefix = "m") {
    std::vector<NewSession> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        out.push_back(
            {prefix + std::to_string(i), prefix + std::to_string(i) + ".corp", i % 3 == 0});
    }
    return out;
}

ArtifactRow sample_artifact(std::int64_t session_id, std::int64_t index) {
    ArtifactRow a;
    a.session_id = session_id;
    a.action_id = "act-1";
    a.command_index = index;
    a.command_type = "GetFile";
    a.remote = "C:\\Windows\\x.log";
    a.file = "host1/" + std::to_string(index) + "-GetFile-x.log";
    a.bytes = 1234;
    a.sha256 = std::string(64, 'f');
    a.downloaded_at = 9'000;
    a.action_status = "Succeeded";
    return a;
}

}  // namespace

TEST_CASE("a new store gets a schema, a WAL journal and a random 16-hex install_id") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    CHECK(store.schema_version() == static_cast<int>(lrsched::store::embedded_migrations().size()));
    CHECK(store.install_id().size() == 16);
    CHECK(store.install_id().find_first_not_of("0123456789abcdef") == std::string::npos);

    TempDir other_dir;
    Store other = unwrap(Store::open(db_path(other_dir)));
    CHECK(other.install_id() != store.install_id());

    Database raw = unwrap(Database::open(db_path(dir), OpenMode::must_exist));
    CHECK(unwrap(raw.pragma("journal_mode")) == "wal");  // persistent, set by the store
    CHECK(unwrap(raw.pragma("user_version")) == std::to_string(store.schema_version()));
}

TEST_CASE("a store that cannot be created says where") {
    TempDir dir;
    const std::string path = (dir.path() / "no-such-dir" / "lrsched.db").string();
    auto r = Store::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::database_error);
    CHECK(r.error().message.find(path) != std::string::npos);
}

TEST_CASE("everything stored survives closing and reopening the store") {
    TempDir dir;
    std::string install_id;
    std::int64_t run_id = 0;
    std::int64_t session_id = 0;
    {
        Store store = unwrap(Store::open(db_path(dir)));
        install_id = store.install_id();
        run_id = make_run(store);
        CHECK(unwrap(store.queue_sessions(run_id, machines(3), 5'000)) == 3);
        session_id = unwrap(store.sessions_of_run(run_id, std::nullopt)).front().id;
        unwrap(store.transition(session_id, SessionState::submitting, {}, 6'000));
        unwrap(store.add_artifact(sample_artifact(session_id, 0)));
        unwrap(store.set_job_paused("sweep", true, "script missing"));
    }
    Store store = unwrap(Store::open(db_path(dir)));
    CHECK(store.install_id() == install_id);
    const auto job = unwrap(store.find_job("sweep"));
    REQUIRE(job.has_value());
    CHECK(job->paused);
    CHECK(job->paused_reason == "script missing");
    const auto run = unwrap(store.latest_run(job->id));
    REQUIRE(run.has_value());
    CHECK(run->id == run_id);
    CHECK(unwrap(store.sessions_of_run(run_id, std::nullopt)).size() == 3);
    const auto session = unwrap(store.find_session(session_id));
    REQUIRE(session.has_value());
    CHECK(session->state == SessionState::submitting);
    CHECK(session->submissions == 1);
    CHECK(unwrap(store.events_of(session_id)).size() == 2);
    const auto artifacts = unwrap(store.artifacts_of_session(session_id));
    REQUIRE(artifacts.size() == 1);
    CHECK(artifacts[0].file == "host1/0-GetFile-x.log");
    CHECK(artifacts[0].sha256 == std::string(64, 'f'));
}

TEST_CASE("upsert_job keeps the id, updates the file's columns and leaves pause and error alone") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t id = unwrap(store.upsert_job(sample_job("nightly")));
    unwrap(store.set_job_paused("nightly", true, "rejected 3 times"));
    unwrap(store.set_job_error("nightly", "line 3: unknown key", 7'000));

    auto changed = sample_job("nightly");
    changed.tenant = "fabrikam";
    changed.definition = R"({"changed":1})";
    changed.source_sha256 = std::string(64, 'b');
    changed.loaded_at = 8'000;
    changed.paused = false;  // not the upsert's business
    CHECK(unwrap(store.upsert_job(changed)) == id);

    const auto job = unwrap(store.find_job("nightly"));
    REQUIRE(job.has_value());
    CHECK(job->id == id);
    CHECK(job->tenant == "fabrikam");
    CHECK(job->definition == R"({"changed":1})");
    CHECK(job->source_sha256 == std::string(64, 'b'));
    CHECK(job->loaded_at == 8'000);
    CHECK(job->paused);
    CHECK(job->last_error == "line 3: unknown key");
    CHECK(job->last_error_at == 7'000);
    CHECK_FALSE(unwrap(store.find_job("other")).has_value());
}

TEST_CASE("job error and pause can be set and cleared, and unknown jobs are reported") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    unwrap(store.upsert_job(sample_job("b-job")));
    unwrap(store.upsert_job(sample_job("a-job")));
    unwrap(store.set_job_error("a-job", "bad cron", 1'500));
    unwrap(store.set_job_error("a-job", std::nullopt, 1'600));
    unwrap(store.set_job_paused("a-job", true, "why"));
    unwrap(store.set_job_paused("a-job", false, "ignored"));
    const auto jobs = unwrap(store.list_jobs());
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].name == "a-job");  // by name
    CHECK(jobs[1].name == "b-job");
    CHECK(jobs[0].last_error == std::nullopt);
    CHECK(jobs[0].last_error_at == std::nullopt);
    CHECK_FALSE(jobs[0].paused);
    CHECK(jobs[0].paused_reason == std::nullopt);

    auto err = store.set_job_error("nope", "x", 1);
    REQUIRE_FALSE(err.ok());
    CHECK(err.error().code == Errc::not_found);
    auto pause = store.set_job_paused("nope", true, "x");
    REQUIRE_FALSE(pause.ok());
    CHECK(pause.error().code == Errc::not_found);

    auto bad_json = sample_job("c-job");
    bad_json.definition = "{not json";
    CHECK_FALSE(store.upsert_job(bad_json).ok());
}

TEST_CASE("latest_run is the last run created for the job, with its fields") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t job_id = unwrap(store.upsert_job(sample_job("nightly")));
    CHECK_FALSE(unwrap(store.latest_run(job_id)).has_value());
    NewRun run{job_id, R"({"v":1})", RunTrigger::cron, 60'000, 61'000, 3'600'000, {}};
    unwrap(store.create_run(run)).value();
    run.trigger = RunTrigger::catch_up;
    run.scheduled_for = 120'000;
    const std::int64_t second = unwrap(store.create_run(run)).value();
    const auto latest = unwrap(store.latest_run(job_id));
    REQUIRE(latest.has_value());
    CHECK(latest->id == second);
    CHECK(latest->trigger == RunTrigger::catch_up);
    CHECK(latest->scheduled_for == 120'000);
    CHECK(latest->deadline_at == 3'600'000);
    CHECK(latest->finished_at == std::nullopt);

    run.job_id = job_id + 100;  // no such job
    auto orphan = store.create_run(run);
    REQUIRE_FALSE(orphan.ok());
    CHECK(orphan.error().message.find("FOREIGN KEY") != std::string::npos);
}

TEST_CASE("queue_sessions creates queued sessions with a creation event, skipping repeats") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t run_id = make_run(store);
    CHECK(unwrap(store.queue_sessions(run_id, machines(5), 10'000)) == 5);
    CHECK(unwrap(store.queue_sessions(run_id, machines(7), 11'000)) == 2);  // m5, m6 are new

    const auto sessions = unwrap(store.sessions_of_run(run_id, SessionState::queued));
    REQUIRE(sessions.size() == 7);
    const auto& first = sessions.front();
    CHECK(first.machine_id == "m0");
    CHECK(first.computer_dns_name == "m0.corp");
    CHECK(first.looks_offline);
    CHECK_FALSE(sessions[1].looks_offline);
    CHECK(first.attempt == 1);
    CHECK(first.submissions == 0);
    CHECK(first.created_at == 10'000);
    CHECK(sessions.back().created_at == 11'000);

    const auto events = unwrap(store.events_of(first.id));
    REQUIRE(events.size() == 1);
    CHECK(events[0].from_state == std::nullopt);
    CHECK(events[0].to_state == SessionState::queued);
    CHECK(events[0].attempt == 1);
    CHECK(events[0].at == 10'000);
    const auto later = unwrap(store.events_of(sessions.back().id));
    REQUIRE(later.size() == 1);  // one creation event each, none for the repeats
    CHECK(later[0].at == 11'000);
    CHECK(later[0].to_state == SessionState::queued);
    CHECK(unwrap(store.sessions_of_run(run_id, SessionState::busy)).empty());
}

TEST_CASE("sessions for a run that does not exist are refused and nothing is written") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t run_id = make_run(store);
    auto r = store.queue_sessions(run_id + 1, machines(3), 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::database_error);
    CHECK(r.error().message.find("FOREIGN KEY") != std::string::npos);
    CHECK(unwrap(store.sessions_of_run(run_id + 1, std::nullopt)).empty());
    CHECK_FALSE(unwrap(store.find_session(1)).has_value());

    auto artifact = store.add_artifact(sample_artifact(999, 0));
    REQUIRE_FALSE(artifact.ok());
    CHECK(artifact.error().message.find("FOREIGN KEY") != std::string::npos);
}

TEST_CASE("queue_sessions takes 100,000 machines in one batch and counts them right") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t run_id = make_run(store);
    const auto batch = machines(100'000);
    // Correctness only: how long the batch takes is a figure of
    // tests/bench/store_bench.cpp, never printed or asserted here.
    CHECK(unwrap(store.queue_sessions(run_id, batch, 1'000)) == 100'000);

    const auto counts = unwrap(store.count_by_state(run_id));
    CHECK(counts.size() == 14);
    CHECK(counts.at(SessionState::queued) == 100'000);
    std::int64_t total = 0;
    for (const auto& [state, n] : counts)
        total += n;
    CHECK(total == 100'000);
    const auto last = unwrap(store.sessions_of_run(run_id, std::nullopt)).back();
    CHECK(last.machine_id == "m99999");
    CHECK(unwrap(store.events_of(last.id)).size() == 1);
}

TEST_CASE("count_by_state lists all 14 states, zeros included") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t run_id = make_run(store);
    unwrap(store.queue_sessions(run_id, machines(4), 1));
    const auto ids = unwrap(store.sessions_of_run(run_id, std::nullopt));
    unwrap(store.transition(ids[0].id, SessionState::cancelled, {}, 2));
    unwrap(store.transition(ids[1].id, SessionState::submitting, {}, 2));
    const auto counts = unwrap(store.count_by_state(run_id));
    CHECK(counts.size() == 14);
    CHECK(counts.at(SessionState::queued) == 2);
    CHECK(counts.at(SessionState::cancelled) == 1);
    CHECK(counts.at(SessionState::submitting) == 1);
    CHECK(counts.at(SessionState::done) == 0);
    const auto empty = unwrap(store.count_by_state(run_id + 1));
    CHECK(empty.size() == 14);
    CHECK(empty.at(SessionState::queued) == 0);
}

TEST_CASE("the event log cannot be changed or deleted through SQL") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    unwrap(store.queue_sessions(make_run(store), machines(1), 1));
    Database raw = unwrap(Database::open(db_path(dir), OpenMode::must_exist));
    for (const char* sql :
         {"UPDATE session_events SET detail = 'edited'", "DELETE FROM session_events"}) {
        CAPTURE(sql);
        auto r = raw.exec(sql);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("append-only") != std::string::npos);
    }
    CHECK(unwrap(store.events_of(1)).size() == 1);
}

TEST_CASE("artifacts are listed per session and a second copy of one is refused") {
    TempDir dir;
    Store store = unwrap(Store::open(db_path(dir)));
    const std::int64_t run_id = make_run(store);
    unwrap(store.queue_sessions(run_id, machines(2), 1));
    const auto sessions = unwrap(store.sessions_of_run(run_id, std::nullopt));
    unwrap(store.add_artifact(sample_artifact(sessions[0].id, 0)));
    unwrap(store.add_artifact(sample_artifact(sessions[0].id, 1)));
    CHECK(unwrap(store.artifacts_of_session(sessions[0].id)).size() == 2);
    CHECK(unwrap(store.artifacts_of_session(sessions[1].id)).empty());
    auto again = store.add_artifact(sample_artifact(sessions[0].id, 1));
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message.find("UNIQUE") != std::string::npos);
    auto bad_type = sample_artifact(sessions[0].id, 2);
    bad_type.command_type = "PutFile";
    CHECK_FALSE(store.add_artifact(bad_type).ok());
}

TEST_CASE("a store can be moved and keeps working") {
    TempDir dir;
    Store first = unwrap(Store::open(db_path(dir)));
    const std::string id = first.install_id();
    Store moved = std::move(first);
    CHECK(moved.install_id() == id);
    CHECK(unwrap(moved.queue_sessions(make_run(moved), machines(2), 1)) == 2);
}
