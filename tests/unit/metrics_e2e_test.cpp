// The counters behind the metrics (issue 13, item 5) end to end: the real
// daemon sweeps a simulated fleet that answers some calls 429 as if another
// client shared the budget, and the figures it gathered (the read model's
// live part, written in its last line per tenant at stop) are checked
// against what the simulator counted and what the store recorded. The
// Prometheus text itself is checked with a parser in metrics_test.cpp.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <map>
#include <regex>
#include <string>

using lrsched::test::DaemonE2e;
using lrsched::test::ReadOnlyDb;
using lrsched::test::SweepSpec;
using nlohmann::json;

namespace {

// The numeric `key=value` fields of the daemon's "tenant=sim at stop:" line.
std::map<std::string, std::int64_t> stop_figures(const std::string& log) {
    const auto at = log.rfind("tenant=sim at stop: ");
    REQUIRE_MESSAGE(at != std::string::npos, log);
    const std::string line = log.substr(at, log.find('\n', at) - at);
    std::map<std::string, std::int64_t> out;
    static const std::regex field(" ([a-z_]+)=([0-9]+)");
    for (auto it = std::sregex_iterator(line.begin(), line.end(), field);
         it != std::sregex_iterator(); ++it)
        out[(*it)[1].str()] = std::stoll((*it)[2].str());
    return out;
}

std::int64_t figure(const std::map<std::string, std::int64_t>& f, const std::string& key) {
    CAPTURE(key);
    const auto it = f.find(key);
    REQUIRE(it != f.end());
    return it->second;
}

}  // namespace

TEST_CASE("metrics e2e: 429s by cause and stored results match the simulator and the store") {
    SweepSpec spec;
    spec.machines = 30;
    spec.never_online_fraction = "0";
    spec.sim_flags = {"--fault-foreign-429", "0.15", "--foreign-retry-after", "1s"};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const json stats = e2e.stats();
    INFO("calls the simulator answered: " << stats["calls"].dump());
    REQUIRE_MESSAGE(stats["throttled"]["foreign"].get<int>() > 0,
                    "the fault never fired: this test would prove nothing");
    // The simulator's 429s on runliveresponse are the submit window's; on
    // every other /api endpoint, the read windows'.
    std::int64_t submit_429 = 0;
    std::int64_t read_429 = 0;
    for (const auto& [endpoint, by_status] : stats["calls"].items()) {
        const std::int64_t n = by_status.value("429", 0);
        if (endpoint == "runliveresponse")
            submit_429 += n;
        else if (endpoint != "token" && endpoint != "blob" && endpoint != "stats")
            read_429 += n;
    }
    const auto f = stop_figures(e2e.log());
    CHECK(figure(f, "throttled_submit") == submit_429);
    CHECK(figure(f, "throttled_read") == read_429);
    CHECK(figure(f, "throttled_other") == 0);

    ReadOnlyDb db(e2e.db_path());
    const std::int64_t files = db.scalar("SELECT count(*) FROM artifacts");
    CHECK(files > 0);
    CHECK(figure(f, "results") == files);
    CHECK(figure(f, "result_bytes") == db.scalar("SELECT coalesce(sum(bytes), 0) FROM artifacts"));
}
