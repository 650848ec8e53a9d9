// lrsched-sim's settings: the contract flags, every other setting as a flag
// or a YAML key, file:line:col errors, hostile files refused.
#include "sim/model/sim_config.hpp"

#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

using lrsched::sim::apply_sim_yaml;
using lrsched::sim::parse_sim_args;
using lrsched::sim::SimConfig;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {
std::vector<std::string> contract(std::vector<std::string> more = {}) {
    std::vector<std::string> a = {"--machines",  "50",  "--seed",          "7",     "--port", "0",
                                  "--client-id", "app", "--client-secret", "s3cret"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
}
}  // namespace

TEST_CASE("sim config: the contract flags and the documented defaults") {
    const SimConfig c = unwrap(parse_sim_args(contract()));
    CHECK(c.machines == 50);
    CHECK(c.seed == 7);
    CHECK(c.port == 0);
    CHECK(c.client_id == "app");
    CHECK(c.client_secret == "s3cret");
    CHECK(c.submit_calls == 10);
    CHECK(c.submit_window == 60);
    CHECK(c.concurrent_sessions == 25);
    CHECK(c.pending_counts_as_running);
    CHECK(c.read_calls == 100);
    CHECK(c.read_calls_long == 1500);
    CHECK(c.read_window_long == 3600);
    CHECK(c.queue_expiry == 259200);
    CHECK(c.runscript_timeout == 600);
    CHECK(c.link_lifetime == 1800);
    CHECK(c.token_lifetime == 3599);
    CHECK(c.tag_regex == "lrsched:[0-9a-f]+:[0-9]+:[0-9]+");
}

TEST_CASE("sim config: durations take plain or fractional seconds and units") {
    const SimConfig c = unwrap(parse_sim_args(
        contract({"--submit-window", "2.5", "--queue-expiry", "20s", "--runscript-timeout=250ms",
                  "--read-window-long", "1h", "--link-lifetime", "3d", "--wrong-host",
                  "--pending-counts-as-running=false", "--library", "a.ps1", "--library", "b.exe",
                  "--start-time", "2024-05-01T00:00:00Z"})));
    CHECK(c.submit_window == 2.5);
    CHECK(c.queue_expiry == 20);
    CHECK(c.runscript_timeout == doctest::Approx(0.25));
    CHECK(c.read_window_long == 3600);
    CHECK(c.link_lifetime == 259200);
    CHECK(c.wrong_host);
    CHECK_FALSE(c.pending_counts_as_running);
    CHECK(c.library == std::vector<std::string>{"a.ps1", "b.exe"});
    REQUIRE(c.start_time.has_value());
    CHECK(*c.start_time == 1714521600.0);
}

TEST_CASE("sim config: bad flags are refused with the flag's name") {
    auto bad = [](std::vector<std::string> more) {
        auto r = parse_sim_args(contract(std::move(more)));
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    };
    CHECK(bad({"--submit-window", "-1"}).find("--submit-window") != std::string::npos);
    CHECK(bad({"--submit-window", "0"}).find("more than 0") != std::string::npos);
    CHECK(bad({"--fault-http500", "1.5"}).find("fraction") != std::string::npos);
    CHECK(bad({"--no-such-flag", "1"}).find("unknown option") != std::string::npos);
    CHECK(bad({"--machines"}).find("needs a value") != std::string::npos);
    CHECK(bad({"--tag-regex", "(["}).find("tag_regex") != std::string::npos);
    CHECK(bad({"--offline-fraction", "0.6", "--never-online-fraction", "0.5"}).find("exceed 1") !=
          std::string::npos);
    auto r = parse_sim_args({"--machines", "3"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("--client-id") != std::string::npos);
}

TEST_CASE("sim config: --help lists every setting") {
    const SimConfig c = unwrap(parse_sim_args({"--help"}));
    CHECK(c.help);
    const std::string help = lrsched::sim::sim_help();
    for (const char* flag : {"--submit-calls", "--queue-expiry", "--fault-created-but-lost",
                             "--visibility-lag", "--getfile-size", "--machines-file", "--ledger"})
        CHECK(help.find(flag) != std::string::npos);
}

TEST_CASE("sim config: a YAML file sets the same keys and flags override it") {
    TempDir dir;
    const auto file = dir.write("sim.yaml",
                                "client_id: from-file\n"
                                "client_secret: file-secret\n"
                                "submit_window: 3s\n"
                                "queue_expiry: 20\n"
                                "runscript_fail_fraction: 0.25\n"
                                "library: [x.ps1, y.exe]\n");
    const SimConfig c = unwrap(
        parse_sim_args({"--config", file.string(), "--queue-expiry", "30", "--machines", "3"}));
    CHECK(c.client_id == "from-file");
    CHECK(c.submit_window == 3);
    CHECK(c.queue_expiry == 30);  // the flag wins
    CHECK(c.runscript_fail_fraction == 0.25);
    CHECK(c.library == std::vector<std::string>{"x.ps1", "y.exe"});
    CHECK(c.machines == 3);
}

TEST_CASE("sim config: an unknown YAML key is an error with file:line:col") {
    SimConfig c;
    auto r = apply_sim_yaml("seed: 3\n  \nsubmit_windw: 3s\n", "sim.yaml", c);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("sim.yaml:3:1: unknown key \"submit_windw\"") !=
          std::string::npos);
    auto bad_value = apply_sim_yaml("seed: 3\nqueue_expiry: soon\n", "f.yaml", c);
    REQUIRE_FALSE(bad_value.ok());
    CHECK(bad_value.error().message.find("f.yaml:2:15: queue_expiry") != std::string::npos);
}

TEST_CASE("sim config: hostile YAML is refused before it is expanded") {
    SimConfig c;
    std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    for (char n = 'b'; n <= 'h'; ++n)
        bomb += std::string(1, n) + ": &" + n + " [*" + char(n - 1) + ", *" + char(n - 1) + ", *" +
                char(n - 1) + ", *" + char(n - 1) + ", *" + char(n - 1) + ", *" + char(n - 1) +
                ", *" + char(n - 1) + ", *" + char(n - 1) + ", *" + char(n - 1) + ", *" +
                char(n - 1) + "]\n";
    auto r = apply_sim_yaml(bomb, "bomb.yaml", c);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("node cap") != std::string::npos);
    auto nul = apply_sim_yaml(std::string("seed: 1\0", 8), "nul.yaml", c);
    CHECK_FALSE(nul.ok());
}
