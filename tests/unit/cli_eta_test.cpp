// `lrsched status`'s ETA (issue 11, item 4), run as the real binary against
// a store written through the real Store API: the end of an unfinished run
// estimated from the job's measured sessions, else the tenant's, else the
// documented 2 minutes, with its source in a word, in the text and in
// `status --json` (`eta`, `eta_source`).
#include "store/database_path.hpp"
#include "store/store.hpp"
#include "support/estimate_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <sys/stat.h>

using lrsched::store::SessionState;
using lrsched::store::Store;
using lrsched::test::end_session;
using lrsched::test::finish_run;
using lrsched::test::queue_looking;
using lrsched::test::run_process;
using lrsched::test::TempDir;
using lrsched::test::tenant_run;
using lrsched::test::unwrap;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "2024-05-01T02:00:00.250Z" as unix milliseconds.
std::int64_t parse_iso(const std::string& text) {
    std::tm tm{};
    REQUIRE(strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
    REQUIRE(text.size() == 24);
    return static_cast<std::int64_t>(timegm(&tm)) * 1000 + std::stoi(text.substr(20, 3));
}

// Two tenants at the default limits (25 slots, 5 offline, 3 days) but
// 10 submits a minute; the store is opened by each test.
struct Site {
    TempDir dir;
    std::string config;
    std::string db;

    Site() {
        const auto secret = dir.write("c.secret", "s3cret\n");
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
        args.insert(args.begin(), LRSCHED_BINARY);
        args.emplace_back("-c");
        args.push_back(config);
        return run_process(args);
    }
};

json parse(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
}

std::string line_of(const std::string& out, const std::string& job) {
    const auto at = out.find("job " + job + " ");
    REQUIRE(at != std::string::npos);
    const auto eta = out.find("  eta: ", at);
    REQUIRE(eta != std::string::npos);
    return out.substr(eta, out.find('\n', eta) - eta);
}

// "sweep" (contoso): three finished runs whose sessions took 40-42 s, and a
// latest run of 30 queued online machines. "fresh" (contoso): its first
// run, 4 queued. "triage" (fabrikam): 3 queued, nothing ever measured on
// fabrikam. "late" (fabrikam): one session running for 10 minutes.
// "held" (contoso): paused, 2 queued. "old" (contoso): finished.
void fill(Store& s, std::int64_t now) {
    const std::int64_t day = 86'400'000;
    for (int r = 0; r < 3; ++r) {
        const std::int64_t at = now - (3 - r) * day;
        const auto run = tenant_run(s, "sweep", "contoso", at);
        const auto ids = queue_looking(s, run, 3, false, "s" + std::to_string(r), at);
        for (int i = 0; i < 3; ++i)
            end_session(s, ids[i], SessionState::done, at, at + 40'000 + i * 1'000);
        finish_run(s, run, at + 60'000);
    }
    queue_looking(s, tenant_run(s, "sweep", "contoso", now), 30, false, "sw", now);
    queue_looking(s, tenant_run(s, "fresh", "contoso", now), 4, false, "fr", now);
    queue_looking(s, tenant_run(s, "triage", "fabrikam", now), 3, false, "tr", now);
    const auto late = tenant_run(s, "late", "fabrikam", now - 700'000);
    const auto id = queue_looking(s, late, 1, false, "la", now - 700'000).at(0);
    unwrap(s.transition(id, SessionState::submitting, {}, now - 600'000));
    unwrap(s.transition(id, SessionState::running, {}, now - 599'000));
    queue_looking(s, tenant_run(s, "held", "contoso", now), 2, false, "he", now);
    unwrap(s.set_job_paused("held", true, "operator"));
    const auto old = tenant_run(s, "old", "contoso", now - day);
    end_session(s, queue_looking(s, old, 1, false, "ol", now - day).at(0), SessionState::done,
                now - day, now - day + 1'000);
    finish_run(s, old, now - day + 2'000);
}

}  // namespace

TEST_CASE("status estimates an unfinished run's end from the job's last runs") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    fill(s, now_ms());

    const auto r = site.run({"status", "--json"});
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = parse(r.out);
    const std::int64_t now = parse_iso(j.at("now").get<std::string>());
    const json& sweep = j.at("jobs").at("sweep").at("latest_run");
    // 41 s per session (median of 40..42 s): 30 submits at 10 a minute, the
    // last at 2 m, then 41 s; 30 x 41 s through 25 slots is only 49.2 s.
    CHECK(sweep.at("eta_source") == "job");
    CHECK(parse_iso(sweep.at("eta").get<std::string>()) - now == 161'000);
    // The existing fields are all still there.
    for (const char* key : {"id", "trigger", "created_at", "finished_at", "deadline_at", "sessions",
                            "total", "finished", "unresolved"})
        CHECK(sweep.contains(key));

    // Its first run: the tenant's recent sessions (sweep's, and old's 1 s).
    const json& fresh = j.at("jobs").at("fresh").at("latest_run");
    CHECK(fresh.at("eta_source") == "tenant");
    CHECK(parse_iso(fresh.at("eta").get<std::string>()) - now == 41'000);

    // Nothing measured on fabrikam: 2 minutes per session.
    const json& triage = j.at("jobs").at("triage").at("latest_run");
    CHECK(triage.at("eta_source") == "default");
    CHECK(parse_iso(triage.at("eta").get<std::string>()) - now == 120'000);

    // Past its estimate: it ends "now".
    const json& late = j.at("jobs").at("late").at("latest_run");
    CHECK(late.at("eta_source") == "default");
    CHECK(parse_iso(late.at("eta").get<std::string>()) == now);

    // A paused job has none; a finished run has none.
    CHECK(j.at("jobs").at("held").at("latest_run").at("eta").is_null());
    CHECK(j.at("jobs").at("held").at("latest_run").at("eta_source").is_null());
    CHECK(j.at("jobs").at("old").at("latest_run").at("eta").is_null());
    CHECK(j.at("jobs").at("old").at("latest_run").at("eta_source").is_null());
}

TEST_CASE("status text says the ETA, its time and its source in a word") {
    Site site;
    auto s = unwrap(Store::open(site.db));
    fill(s, now_ms());

    const auto r = site.run({"status"});
    CAPTURE(r.out);
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 0);
    const std::string sweep = line_of(r.out, "sweep");
    CHECK(sweep.rfind("  eta: about 2m 41s, at ", 0) == 0);
    CHECK(sweep.find("Z (job: median 41s per session; 30 to submit at 10 per 1m)") !=
          std::string::npos);
    CHECK(line_of(r.out, "fresh")
              .find("(tenant: median 41s per session; 4 to submit at 10 per "
                    "1m)") != std::string::npos);
    CHECK(line_of(r.out, "triage").find("about 2m, at ") != std::string::npos);
    CHECK(line_of(r.out, "triage")
              .find("(default: 2m per session assumed; 3 to submit at 10 per "
                    "1m)") != std::string::npos);
    CHECK(line_of(r.out, "late") ==
          "  eta: any moment now: 1 session(s) on the server past their estimate (default: 2m "
          "per session assumed)");
    CHECK(line_of(r.out, "held") == "  eta: none while the job is paused (2 waiting session(s))");
}
