// `lrsched status` and `lrsched sessions`, run as the real binary against a
// store written through the real Store API, as the daemon writes it.
#include "store/database_path.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/report_fixture.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/stat.h>

using lrsched::store::ApiCallKind;
using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::make_run;
using lrsched::test::populate;
using lrsched::test::run_process;
using lrsched::test::sample_job;
using lrsched::test::TempDir;
using lrsched::test::unwrap;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kBin = LRSCHED_BINARY;
constexpr const char* kSecret = "s3cret-never-shown";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A configuration with two tenants whose state_dir is empty until a test
// opens the store there.
struct Site {
    TempDir dir;
    std::string config;
    std::string db;

    Site() {
        const auto secret = dir.write("c.secret", std::string(kSecret) + "\n");
        ::chmod(secret.c_str(), 0600);
        fs::create_directories(dir.path() / "state");
        fs::create_directories(dir.path() / "jobs");
        db = lrsched::store::database_path((dir.path() / "state").string());
        config = dir.write("lrsched.yaml", "state_dir: state\njobs_dir: jobs\ntenants:\n" +
                                               tenant("contoso") + tenant("fabrikam"))
                     .string();
    }

    static std::string tenant(const std::string& name) {
        return "  - name: " + name +
               "\n"
               "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
               "    client_id: 11111111-1111-1111-1111-111111111111\n"
               "    client_secret_file: c.secret\n"
               "    limits:\n"
               "      submit_rate: {calls: 10, per: 60s}\n";
    }

    lrsched::test::ProcessResult run(std::vector<std::string> args) const {
        args.insert(args.begin(), kBin);
        args.emplace_back("-c");
        args.push_back(config);
        return run_process(args);
    }
};

// "sweep" (contoso): an older run with one session running, and a latest run
// of 18 sessions; "triage" (fabrikam) never ran. Returns the latest run's id.
std::int64_t fill(Store& s, std::int64_t now) {
    const auto old_run = make_run(s, "sweep");
    populate(s, old_run, {{SessionState::running, 1}}, "old", now);
    const auto run = make_run(s, "sweep");
    populate(s, run,
             {{SessionState::queued, 5},
              {SessionState::busy, 1},
              {SessionState::submitting, 1},
              {SessionState::pending, 2},
              {SessionState::running, 3},
              {SessionState::done, 4},
              {SessionState::failed, 1},
              {SessionState::not_found, 1}},
             "host", now);
    auto triage = sample_job("triage");
    triage.tenant = "fabrikam";
    unwrap(s.upsert_job(triage));
    unwrap(s.begin_api_call("contoso", ApiCallKind::submit, now - 600'000));
    unwrap(s.begin_api_call("contoso", ApiCallKind::submit, now - 1'000));
    unwrap(s.begin_api_call("contoso", ApiCallKind::submit, now - 500));
    for (int i = 0; i < 3; ++i)
        unwrap(s.begin_api_call("contoso", ApiCallKind::read, now - 2'000));
    unwrap(s.set_tenant_paused("fabrikam", true, "second 401: check the client secret"));
    return run;
}

json parse(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
}

}  // namespace

TEST_CASE("status --json has every state by name, zeros included, and each tenant's figures") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    const auto run = fill(s, now_ms());

    const auto r = site.run({"status", "--json"});
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = parse(r.out);
    const json& sweep = j.at("jobs").at("sweep");
    CHECK(sweep.at("tenant") == "contoso");
    CHECK(sweep.at("paused") == false);
    CHECK(sweep.at("paused_reason").is_null());
    CHECK(sweep.at("last_error").is_null());
    const json& latest = sweep.at("latest_run");
    CHECK(latest.at("id") == run);
    CHECK(latest.at("trigger") == "manual");
    CHECK(latest.at("created_at") == "1970-01-01T00:00:02.000Z");
    CHECK(latest.at("finished_at").is_null());
    CHECK(latest.at("unresolved").is_null());
    const json expected = {{"queued", 5},    {"busy", 1},       {"submitting", 1}, {"pending", 2},
                           {"running", 3},   {"collecting", 0}, {"done", 4},       {"failed", 1},
                           {"expired", 0},   {"not_found", 1},  {"rejected", 0},   {"cancelled", 0},
                           {"withdrawn", 0}, {"gave_up", 0}};
    CHECK(latest.at("sessions") == expected);
    CHECK(latest.at("total") == 18);
    CHECK(latest.at("finished") == 6);
    CHECK(j.at("jobs").at("triage").at("latest_run").is_null());

    const json& contoso = j.at("tenants").at("contoso");
    CHECK(contoso.at("calls_last_minute") == 2);
    CHECK(contoso.at("read_calls_last_minute") == 3);
    CHECK(contoso.at("running") == 4);  // both runs
    CHECK(contoso.at("pending") == 2);
    CHECK(contoso.at("submitting") == 1);
    CHECK(contoso.at("paused") == false);
    CHECK(contoso.at("throttled_until").is_null());
    const json& fabrikam = j.at("tenants").at("fabrikam");
    CHECK(fabrikam.at("paused") == true);
    CHECK(fabrikam.at("paused_reason") == "second 401: check the client secret");
    CHECK(fabrikam.at("calls_last_minute") == 0);
    CHECK(j.at("now").get<std::string>().size() == 24);  // 2024-05-01T02:00:00.000Z
    CHECK(r.out.find(kSecret) == std::string::npos);
}

TEST_CASE("status text shows progress, the states in use, an ETA and one line per tenant") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    fill(s, now_ms());
    unwrap(s.set_job_error("sweep", "commands[0]: script missing\nfrom the library", 3'000));

    const auto r = site.run({"status"});
    CAPTURE(r.out);
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("job sweep (tenant contoso)\n") != std::string::npos);
    CHECK(r.out.find("  paused: no\n") != std::string::npos);
    CHECK(r.out.find("  last error: 1970-01-01T00:00:03Z commands[0]: script missing from the "
                     "library\n") != std::string::npos);
    CHECK(r.out.find("  latest run: 2 (manual), created 1970-01-01T00:00:02Z\n") !=
          std::string::npos);
    CHECK(r.out.find("  progress: 6 of 18 sessions finished\n") != std::string::npos);
    CHECK(r.out.find("  states: queued 5, busy 1, submitting 1, pending 2, running 3, done 4, "
                     "failed 1, not_found 1\n") != std::string::npos);
    // 6 waiting (queued and busy) at 10 per minute. The tenant's sessions
    // measured so far (the 4 done) took no time at all, so the 2 pending
    // ones are past that and may wait up to queue_expiry (3 days), and the
    // submitting and running ones are past every bound.
    const auto eta = r.out.find("  eta: about ");
    REQUIRE(eta != std::string::npos);
    CHECK(r.out.substr(eta, r.out.find('\n', eta) - eta)
              .find("Z (tenant: median 0.0s per session; 6 to submit at 10 per 1m; 2 pending "
                    "past that, up to queue_expiry; 4 past their estimate)") != std::string::npos);
    CHECK(r.out.find("job triage (tenant fabrikam)\n") != std::string::npos);
    CHECK(r.out.find("  latest run: none yet\n") != std::string::npos);
    CHECK(r.out.find("tenant contoso: 2 submit call(s) in the last minute (limit 10 per 1m), 3 "
                     "read call(s); running 4, pending 2, submitting 1\n") != std::string::npos);
    CHECK(r.out.find("tenant fabrikam: 0 submit call(s) in the last minute (limit 10 per 1m), 0 "
                     "read call(s); running 0, pending 0, submitting 0; paused: second 401: "
                     "check the client secret\n") != std::string::npos);
    CHECK(r.out.find(kSecret) == std::string::npos);
}

TEST_CASE("status JOB shows that job alone, an unknown job exits 1 naming it") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    fill(s, now_ms());

    auto r = site.run({"status", "triage", "--json"});
    REQUIRE(r.exit_code == 0);
    const json j = parse(r.out);
    CHECK(j.at("jobs").size() == 1);
    CHECK(j.at("jobs").contains("triage"));
    CHECK(j.at("tenants").size() == 1);
    CHECK(j.at("tenants").contains("fabrikam"));

    r = site.run({"status", "no-such-job"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no job named 'no-such-job'") != std::string::npos);
    CHECK(site.run({"sessions", "no-such-job"}).exit_code == 1);
    CHECK(site.run({"status", "a", "b"}).exit_code == 1);
}

TEST_CASE("without a database status exits 2 and creates nothing") {
    Site site;
    for (const char* cmd : {"status", "sessions"}) {
        std::vector<std::string> args{cmd};
        if (std::string(cmd) == "sessions") args.emplace_back("sweep");
        const auto r = site.run(args);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("no database at " + site.db + ": has the daemon run yet?") !=
              std::string::npos);
    }
    CHECK_FALSE(fs::exists(site.db));
    CHECK(fs::is_empty(site.dir.path() / "state"));
}

TEST_CASE("a bad configuration exits 1 with file:line:col") {
    Site site;
    const auto bad = site.dir.write("bad.yaml", "state_dir: state\nfrobnicate: 1\n");
    const auto r = run_process({kBin, "status", "-c", bad.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(bad.string() + ":2:1:") != std::string::npos);
}

TEST_CASE("sessions lists the latest run, --state filters, an unknown state exits 1") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    const auto run = fill(s, now_ms());
    const auto failed = unwrap(s.sessions_of_run(run, SessionState::failed)).at(0);
    lrsched::store::TransitionDetail retry;
    retry.error = std::string(200, 'x');
    unwrap(s.transition(failed.id, SessionState::queued, retry, now_ms()));

    auto r = site.run({"sessions", "sweep"});
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("MACHINE ", 0) == 0);
    CHECK(r.out.find("host0.corp") != std::string::npos);
    CHECK(r.out.find("old0.corp") == std::string::npos);  // an older run
    CHECK(r.out.find(std::string(80, 'x') + "...") != std::string::npos);
    CHECK(r.out.find(std::string(81, 'x')) == std::string::npos);

    r = site.run({"sessions", "sweep", "--state", "queued", "--json"});
    REQUIRE(r.exit_code == 0);
    const json j = parse(r.out);
    CHECK(j.at("job") == "sweep");
    CHECK(j.at("run") == run);
    const json& rows = j.at("sessions");
    REQUIRE(rows.size() == 6);
    for (const json& row : rows)
        CHECK(row.at("state") == "queued");
    const json& retried = rows.back();
    CHECK(retried.at("id") == failed.id);
    CHECK(retried.at("attempt") == 2);
    CHECK(retried.at("submissions") == 1);
    CHECK(retried.at("last_error") == std::string(200, 'x'));
    CHECK(retried.at("action_id").is_null());
    CHECK(retried.at("exit_code").is_null());
    CHECK(retried.at("computer_dns_name") == failed.computer_dns_name.value());
    CHECK(retried.at("machine_id") == failed.machine_id);
    CHECK(retried.at("looks_offline") == false);
    CHECK(retried.at("not_before").is_null());
    CHECK(retried.contains("updated_at"));

    r = site.run({"sessions", "sweep", "--state", "Done"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("unknown state 'Done' (states: queued, busy, submitting, pending, running, "
                     "collecting, done, failed, expired, not_found, rejected, cancelled, "
                     "withdrawn, gave_up)") != std::string::npos);

    r = site.run({"sessions", "triage", "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK(parse(r.out) == json{{"job", "triage"}, {"run", nullptr}, {"sessions", json::array()}});
}

TEST_CASE("status reads while another connection holds the write lock") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    fill(s, now_ms());
    auto writer =
        unwrap(lrsched::store::Database::open(site.db, lrsched::store::OpenMode::must_exist));
    auto tx = unwrap(lrsched::store::Transaction::begin(writer));
    unwrap(writer.exec("UPDATE jobs SET paused = 1"));

    const auto r = site.run({"status", "--json"});
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(parse(r.out).at("jobs").at("sweep").at("paused") == false);  // not yet committed
    CHECK(site.run({"sessions", "sweep"}).exit_code == 0);
}
