// lrsched daemon end to end (issue 4's "Done means"): the real `lrsched
// daemon` against the real lrsched-sim over loopback TLS, one sweep per
// test. What the simulator saw (/_sim/stats, its ledger of created actions)
// is the oracle for the limits and for exactly-once; the daemon's database,
// read read-only, and its log say what the daemon believed. Nothing here
// asserts on time: waits are bounded loops on an observable.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

using lrsched::test::DaemonE2e;
using lrsched::test::kFinalStatesSql;
using lrsched::test::ReadOnlyDb;
using lrsched::test::session_log_lines;
using lrsched::test::SweepSpec;
using nlohmann::json;

namespace {

// The stats without the per-machine map: short enough for a failure message.
std::string summary(json stats) {
    stats.erase("actions_per_machine");
    return stats.dump();
}

std::int64_t as_int(const std::optional<std::string>& v) {
    REQUIRE(v.has_value());
    return std::stoll(*v);
}

// The correlation tag in a Comment: lrsched:<install>:<session>:<submission>.
struct Tag {
    std::string install;
    std::int64_t session = 0;
    std::int64_t submission = 0;
};
std::optional<Tag> parse_tag(const std::string& text) {
    static const std::regex tag_pattern("lrsched:([0-9a-f]+):([0-9]+):([0-9]+)");
    std::smatch m;
    if (!std::regex_search(text, m, tag_pattern)) return std::nullopt;
    return Tag{m[1].str(), std::stoll(m[2].str()), std::stoll(m[3].str())};
}

// SPEC §1: no window held more submits than the limit, the concurrency cap
// held, and no 429 was the daemon's own doing.
void check_limits_held(const json& stats, const SweepSpec& spec) {
    INFO("stats: " << summary(stats));
    CHECK(stats["max_submits_in_any_window"].get<int>() <= spec.submit_calls);
    CHECK(stats["max_concurrent_sessions"].get<int>() <= spec.concurrent_sessions);
    CHECK(stats["throttled"]["submit_rate"] == 0);
    CHECK(stats["throttled"]["concurrency"] == 0);
    CHECK(stats["throttled"]["read_rate"] == 0);
}

// Nothing lost: one session per machine of the fleet, each in a final state,
// and the run finished.
void check_every_session_final(DaemonE2e& e2e) {
    ReadOnlyDb db(e2e.db_path());
    INFO("the daemon's last lines:\n" << e2e.log_tail());
    CHECK(db.scalar("SELECT count(*) FROM sessions") == e2e.spec().machines);
    CHECK(db.scalar(std::string("SELECT count(*) FROM sessions WHERE state NOT IN ") +
                    kFinalStatesSql) == 0);
    CHECK(db.scalar("SELECT count(*) FROM runs WHERE finished_at IS NULL") == 0);
    CHECK(db.scalar("SELECT count(*) FROM runs") == 1);
}

// Nothing twice: every action the simulator created carries one of this
// installation's tags, no tag twice, no session two actions; the action a
// session holds is the one its tag created; a session without an action has
// none on the server.
void check_one_action_per_session(DaemonE2e& e2e, const json& stats) {
    INFO("stats: " << summary(stats));
    CHECK(stats["duplicate_tags"] == 0);
    const auto created = e2e.created_actions();
    CHECK(created.size() == stats["actions_created"].get<std::size_t>());

    ReadOnlyDb db(e2e.db_path());
    const auto install = db.rows("SELECT value FROM meta WHERE key = 'install_id'");
    REQUIRE(install.size() == 1);
    std::map<std::int64_t, std::vector<std::string>> actions_of_session;
    for (const auto& a : created) {
        const auto tag = parse_tag(a["tag"].get<std::string>());
        INFO("action " << a.dump());
        REQUIRE(tag.has_value());
        CHECK(tag->install == *install[0][0]);
        actions_of_session[tag->session].push_back(a["action"].get<std::string>());
    }
    const json& per_machine = stats["actions_per_machine"];
    std::size_t with_action = 0;
    for (const auto& row : db.rows("SELECT id, machine_id, action_id, state FROM sessions")) {
        const std::int64_t id = as_int(row[0]);
        const std::string& machine = *row[1];
        const auto& mine = actions_of_session[id];
        INFO("session " << id << " machine " << machine << " state " << *row[3]);
        if (row[2]) {
            ++with_action;
            CHECK(mine == std::vector<std::string>{*row[2]});
            CHECK(per_machine.value(machine, 0) == 1);
        } else {
            CHECK(mine.empty());
            CHECK_FALSE(per_machine.contains(machine));
        }
    }
    CHECK(with_action == created.size());
    CHECK(per_machine.size() == created.size());
}

// The sweep had what it was meant to have: machines that looked offline,
// busy answers, and sessions the server let expire.
void check_fleet_mix_was_exercised(DaemonE2e& e2e) {
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE looks_offline = 1") > 0);
    CHECK(db.scalar("SELECT count(*) FROM session_events WHERE to_state = 'busy'") > 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'expired'") > 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state = 'done'") > 0);
}

// One `state=` log line per stored transition (the creation event aside),
// the same (run, machine, from, to) both ways. Only after a clean stop: a
// SIGKILL may fall between a commit and its line.
void check_log_matches_events(DaemonE2e& e2e) {
    using Move = std::tuple<std::int64_t, std::string, std::string, std::string>;
    std::vector<Move> logged;
    for (const auto& l : session_log_lines(e2e.log()))
        logged.emplace_back(l.run, l.machine_id, l.from, l.state);
    std::vector<Move> stored;
    ReadOnlyDb db(e2e.db_path());
    for (const auto& r :
         db.rows("SELECT s.run_id, s.machine_id, e.from_state, e.to_state FROM session_events e "
                 "JOIN sessions s ON s.id = e.session_id WHERE e.from_state IS NOT NULL"))
        stored.emplace_back(as_int(r[0]), *r[1], *r[2], *r[3]);
    std::sort(logged.begin(), logged.end());
    std::sort(stored.begin(), stored.end());
    CHECK(logged.size() == stored.size());
    CHECK(logged == stored);
}

// Nothing went wrong inside the daemon: no line at level error or critical
// (a refused transition, a store failure, a loop that died).
void check_no_error_logged(DaemonE2e& e2e) {
    std::istringstream in(e2e.log());
    std::string bad;
    for (std::string line; std::getline(in, line);) {
        const auto level = line.substr(line.find(' ') + 1,
                                       line.find(' ', line.find(' ') + 1) - line.find(' ') - 1);
        if (level == "error" || level == "critical") bad += line + "\n";
    }
    CHECK_MESSAGE(bad.empty(), "the daemon logged:\n" << bad);
}

// A sweep bound by the submit rate rather than by slots, so that a restart
// in its middle would burst past the window if the window were not restored.
SweepSpec rate_bound_sweep() {
    SweepSpec spec;
    spec.machines = 60;
    spec.submit_calls = 10;
    spec.submit_window = "2s";
    spec.concurrent_sessions = 30;
    spec.offline_slots = 10;
    return spec;
}

// For wait conditions: 0 while the database cannot be read yet.
std::int64_t count_sessions(DaemonE2e& e2e, const std::string& where) {
    return e2e.query("SELECT count(*) FROM sessions WHERE " + where).value_or(0);
}

// After a stop: the database must be readable.
std::int64_t count_stopped(DaemonE2e& e2e, const std::string& where) {
    ReadOnlyDb db(e2e.db_path());
    return db.scalar("SELECT count(*) FROM sessions WHERE " + where);
}

}  // namespace

TEST_CASE(
    "daemon e2e: a 200-machine sweep ends with every session final, within every limit, one "
    "action per session and one log line per transition") {
    SweepSpec spec;
    spec.machines = 200;
    spec.submit_calls = 20;
    spec.concurrent_sessions = 20;
    spec.offline_slots = 10;
    spec.queue_expiry = "6s";
    spec.never_online_fraction = "0.05";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    check_every_session_final(e2e);
    check_limits_held(stats, spec);
    check_one_action_per_session(e2e, stats);
    check_no_error_logged(e2e);
    check_fleet_mix_was_exercised(e2e);
    check_log_matches_events(e2e);
}

TEST_CASE("daemon e2e: submits whose answers were lost are found by their tags, never sent twice") {
    SweepSpec spec;
    spec.sim_flags = {"--fault-created-but-lost", "0.2"};
    // A lost answer is looked up in its machine's actions after
    // max(listing_lag / 4, 250 ms); a listing of the tenant's actions may
    // adopt it first. Polling less often than that lets both paths be taken.
    spec.listing_lag = "1s";
    spec.poll_interval = "1s";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    INFO("stats: " << summary(stats));
    const int injected = stats["faults_injected"]["created_but_lost_500"].get<int>() +
                         stats["faults_injected"]["created_but_lost_reset"].get<int>();
    REQUIRE_MESSAGE(injected > 0, "the fault never fired: this test would prove nothing");
    check_every_session_final(e2e);
    check_limits_held(stats, spec);
    check_one_action_per_session(e2e, stats);
    check_no_error_logged(e2e);

    // Every lost answer was noticed ("looking for tag T"), and the session
    // left `submitting` holding the very action that T created.
    const std::string log = e2e.log();
    static const std::regex looking_for("looking for tag (lrsched:[0-9a-f]+:[0-9]+:[0-9]+)");
    std::vector<std::string> lost;
    for (std::sregex_iterator it(log.begin(), log.end(), looking_for), end; it != end; ++it)
        lost.push_back((*it)[1].str());
    CHECK(lost.size() == static_cast<std::size_t>(injected));
    std::map<std::string, std::string> action_of_tag;
    for (const auto& a : e2e.created_actions())
        action_of_tag[a["tag"].get<std::string>()] = a["action"].get<std::string>();
    ReadOnlyDb db(e2e.db_path());
    for (const std::string& tag : lost) {
        INFO("lost answer for " << tag);
        REQUIRE(action_of_tag.count(tag) == 1);
        const Tag t = *parse_tag(tag);
        const std::string session = std::to_string(t.session);
        // Never sent again: the action exists, so no later submission may be.
        CHECK(db.scalar("SELECT submissions FROM sessions WHERE id = " + session) == t.submission);
        CHECK(db.scalar("SELECT count(*) FROM session_events WHERE session_id = " + session +
                        " AND from_state = 'submitting' AND action_id = '" + action_of_tag[tag] +
                        "'") == 1);
    }
    static const std::regex found_by_lookup("found action \\S+ by its tag");
    const auto by_lookup = std::distance(
        std::sregex_iterator(log.begin(), log.end(), found_by_lookup), std::sregex_iterator());
    MESSAGE("lost answers: " << lost.size() << ", found by a lookup of the machine's actions: "
                             << by_lookup << ", the rest adopted from the tenant's listing");
    // Which path adopts a lost answer first (the lookup of its machine's
    // actions, or the tenant's listing, which polls faster while every slot
    // is held) depends on timing; both are checked above by their outcome.
    // The lookup path on its own is pinned down in dispatcher_test.cpp.
    check_log_matches_events(e2e);
}

TEST_CASE(
    "daemon e2e: killed with SIGKILL mid-sweep and restarted, the daemon loses nothing, submits "
    "nothing twice and keeps the rate window") {
    SweepSpec spec = rate_bound_sweep();
    // Lost answers keep sessions in `submitting` (outcome unknown) long
    // enough for the kill to land on some.
    spec.sim_flags = {"--fault-created-but-lost", "0.3"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("10 actions known, one session submitting and some still queued", [&] {
        return count_sessions(e2e, "action_id IS NOT NULL") >= 10 &&
               count_sessions(e2e, "state = 'submitting'") >= 1 &&
               count_sessions(e2e, "state = 'queued'") >= 1;
    });
    CHECK(e2e.stop_daemon(SIGKILL) == -SIGKILL);
    const std::int64_t unfinished =
        count_stopped(e2e, std::string("state NOT IN ") + kFinalStatesSql);
    MESSAGE("at the kill: " << count_stopped(e2e, "state = 'submitting'") << " submitting, "
                            << unfinished << " not final");
    CHECK(unfinished > 0);

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    const json stats = e2e.stats();
    check_every_session_final(e2e);
    check_limits_held(stats, spec);  // the submit window held across the restart
    check_one_action_per_session(e2e, stats);
    check_no_error_logged(e2e);
    MESSAGE("most submits in any window: " << stats["max_submits_in_any_window"] << " of "
                                           << spec.submit_calls);
}

TEST_CASE("daemon e2e: tokens expiring mid-sweep are refreshed and no session is lost") {
    SweepSpec spec;
    spec.sim_flags = {"--token-lifetime", "3s"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    INFO("stats: " << summary(stats));
    CHECK(stats["tokens_issued"].get<int>() > 1);
    check_every_session_final(e2e);
    check_limits_held(stats, spec);
    check_one_action_per_session(e2e, stats);
    check_no_error_logged(e2e);
    ReadOnlyDb db(e2e.db_path());
    CHECK(db.scalar("SELECT count(*) FROM tenants WHERE paused = 1") == 0);
    CHECK(db.scalar("SELECT count(*) FROM sessions WHERE state IN ('rejected', 'not_found')") == 0);
    int unauthorized = 0;
    for (const auto& by_status : stats["calls"])
        unauthorized += by_status.value("401", 0);
    MESSAGE("tokens issued: " << stats["tokens_issued"] << ", 401 answers: " << unauthorized);
    check_log_matches_events(e2e);
}

TEST_CASE("daemon e2e: foreign 429s are obeyed without losing a session, and none is our own") {
    SweepSpec spec;
    spec.sim_flags = {"--fault-foreign-429", "0.1", "--foreign-retry-after", "1s"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    INFO("stats: " << summary(stats));
    REQUIRE_MESSAGE(stats["throttled"]["foreign"].get<int>() > 0,
                    "the fault never fired: this test would prove nothing");
    check_every_session_final(e2e);
    check_limits_held(stats, spec);
    check_one_action_per_session(e2e, stats);
    check_no_error_logged(e2e);
    MESSAGE("foreign 429s: " << stats["throttled"]["foreign"] << ", of them on runliveresponse: "
                             << stats["calls"]["runliveresponse"].value("429", 0));
    check_log_matches_events(e2e);
}

TEST_CASE("daemon e2e: a wrong-host certificate stops every API request before it is sent") {
    SweepSpec spec;
    spec.machines = 10;
    spec.wrong_host = true;
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the daemon to log the certificate error", [&] {
        return e2e.log().find("certificate verify failed") != std::string::npos;
    });
    const json stats = e2e.stats();  // read as wrong.example, the name the certificate names
    INFO("stats: " << summary(stats));
    INFO("the daemon's last lines:\n" << e2e.log_tail());
    std::vector<std::string> endpoints;
    for (const auto& e : stats["calls"].items())
        endpoints.push_back(e.key());
    // Not one call from the daemon; at most the test's own stats reads.
    CHECK((endpoints.empty() || endpoints == std::vector<std::string>{"stats"}));
    CHECK(stats["tokens_issued"] == 0);
    CHECK(stats["actions_created"] == 0);
    CHECK(e2e.log().find("not valid for host name 127.0.0.1") != std::string::npos);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    CHECK(count_stopped(e2e, "1") == 0);  // targets never resolved: nothing queued
}

TEST_CASE(
    "daemon e2e: a second daemon on the same state_dir refuses to start, naming the first, which "
    "goes on") {
    SweepSpec spec;
    spec.machines = 20;
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the daemon has loaded its job",
                   [&] { return e2e.query("SELECT count(*) FROM jobs").value_or(0) >= 1; });
    const auto second = lrsched::test::run_process_within(
        {LRSCHED_BINARY, "daemon", "-c", (e2e.dir() / "lrsched.yaml").string()},
        std::chrono::seconds(20));
    CHECK_FALSE(second.timed_out);
    CHECK(second.exit_code == 1);
    CHECK_MESSAGE(second.err.find("is in use by another lrsched daemon (pid " +
                                  std::to_string(e2e.daemon_pid()) + ")") != std::string::npos,
                  second.err);
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}

TEST_CASE(
    "daemon e2e: SIGTERM while every call hangs lets them run out the grace, then cancels them, "
    "and every loop ends before the store closes") {
    SweepSpec spec;
    spec.machines = 20;
    spec.sim_flags = {"--fault-slow", "1", "--slow-seconds", "60"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("an API call in flight", [&] {
        return e2e.query("SELECT count(*) FROM api_calls WHERE ended_at IS NULL").value_or(0) >= 1;
    });
    CHECK_MESSAGE(e2e.stop_daemon(SIGTERM) == 0, "the daemon did not exit 0 on SIGTERM:\n"
                                                     << e2e.log_tail());
    const std::string log = e2e.log();
    // Phase one named the work in flight; phase two cancelled it, and
    // every loop unwound (none was left for io_context::stop to drop).
    CHECK(log.find("stopping: no new work;") != std::string::npos);
    CHECK_MESSAGE(log.find("stopping: cancelling") != std::string::npos, e2e.log_tail());
    CHECK_MESSAGE(log.find("did not end") == std::string::npos, e2e.log_tail());
    CHECK(log.find("lrsched daemon stopped") != std::string::npos);
    // The read model's live figures, as the daemon stopped: one listing at
    // least was sent (and cut), one token fetched.
    CHECK_MESSAGE(log.find("tenant=sim at stop: reads=") != std::string::npos, e2e.log_tail());
    CHECK(log.find("token_fetches=1 ") != std::string::npos);
}

TEST_CASE(
    "daemon e2e: SIGTERM mid-sweep exits 0 and a restart finishes the sweep with nothing twice") {
    const SweepSpec spec = rate_bound_sweep();
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("10 actions known and some sessions still queued", [&] {
        return count_sessions(e2e, "action_id IS NOT NULL") >= 10 &&
               count_sessions(e2e, "state = 'queued'") >= 1;
    });
    // stop_daemon's wait is bounded (10 s, then SIGKILL and -SIGKILL here).
    CHECK_MESSAGE(e2e.stop_daemon(SIGTERM) == 0, "the daemon did not exit 0 on SIGTERM:\n"
                                                     << e2e.log_tail());
    CHECK(count_stopped(e2e, std::string("state NOT IN ") + kFinalStatesSql) > 0);

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    const json stats = e2e.stats();
    check_every_session_final(e2e);
    check_limits_held(stats, spec);
    check_one_action_per_session(e2e, stats);
    check_no_error_logged(e2e);
    check_log_matches_events(e2e);
}
