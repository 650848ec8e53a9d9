// The daemon against token answers it cannot take at face value (issue 10,
// C13), through the real `lrsched daemon` and `lrsched-sim --token-body`: a
// lifetime that would overflow the clock is clamped, so one token serves the
// whole sweep; an unusable 200 is logged saying what was wrong with it, and
// never with the token or the secret.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <string>

using lrsched::test::DaemonE2e;
using lrsched::test::SweepSpec;

namespace {

SweepSpec small_sweep(const std::string& token_body) {
    SweepSpec spec;
    spec.machines = 12;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.sim_flags = {"--token-body", token_body};
    return spec;
}

}  // namespace

TEST_CASE("daemon e2e: a token whose expires_in is INT64_MAX serves the whole sweep") {
    DaemonE2e e2e(small_sweep(
        R"({"token_type":"Bearer","expires_in":9223372036854775807,"access_token":"@TOKEN@"})"));
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    const auto stats = e2e.stats();
    INFO("stats: " << stats.dump());
    CHECK(stats["tokens_issued"] == 1);  // fetched once, not on every call
    CHECK(stats["actions_created"] == 12);
}

TEST_CASE("daemon e2e: a token answer that is not JSON is logged as such, without the token") {
    DaemonE2e e2e(small_sweep("<html>@TOKEN@</html>"));
    e2e.start_daemon();
    e2e.wait_until("the daemon to log why the token answer was refused", [&] {
        return e2e.log().find("token endpoint answered HTTP 200 with a body that is not JSON") !=
               std::string::npos;
    });
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    const std::string log = e2e.log();
    INFO("log: " << e2e.log_tail());
    CHECK(log.find("eyJ0eXAi") == std::string::npos);  // the simulator's tokens start so
    CHECK(log.find("s3cret") == std::string::npos);    // the fixture's client secret
    CHECK(log.find("token request refused (HTTP 200)") == std::string::npos);
    CHECK(e2e.stats()["actions_created"] == 0);
}

TEST_CASE("daemon e2e: a token answer without access_token is logged as such") {
    DaemonE2e e2e(small_sweep(R"({"token_type":"Bearer","expires_in":3599})"));
    e2e.start_daemon();
    e2e.wait_until("the daemon to log why the token answer was refused", [&] {
        return e2e.log().find("token endpoint answered HTTP 200 with no access_token") !=
               std::string::npos;
    });
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
}
