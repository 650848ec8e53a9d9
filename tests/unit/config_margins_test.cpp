// The daemon's internal margins as settings (issue 10, B9): defaults, the
// example file, compressed values for tests, and refusals.
#include "config/config.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
using lrsched::Diagnostics;
using lrsched::config::load_config;
using lrsched::config::parse_config;

namespace {

constexpr const char* kTenant =
    "tenants:\n"
    "  - name: contoso\n"
    "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
    "    client_id: 11111111-1111-1111-1111-111111111111\n";

}  // namespace

TEST_CASE("clock_skew, offline_after and collect_timeout default to 10m, 25h and 1d") {
    Diagnostics diags;
    auto c = parse_config(kTenant, "/etc/lrsched/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    const auto& t = c->tenants.at(0);
    CHECK(t.clock_skew == 10min);
    CHECK(t.offline_after == 25h);
    CHECK(t.limits.collect_timeout == 24h);

    Diagnostics d2;
    auto example = load_config(LRSCHED_SOURCE_DIR "/config/lrsched.yaml", d2);
    CAPTURE(d2.to_string());
    REQUIRE(example.has_value());
    const auto& e = example->tenants.at(0);
    CHECK(e.clock_skew == t.clock_skew);
    CHECK(e.offline_after == t.offline_after);
    CHECK(e.limits.collect_timeout == t.limits.collect_timeout);
}

TEST_CASE("the margins compress for tests and are refused with a position when malformed") {
    Diagnostics diags;
    auto c = parse_config(std::string(kTenant) +
                              "    clock_skew: 200ms\n"
                              "    offline_after: 30s\n"
                              "    limits: {collect_timeout: 5s}\n",
                          "/srv/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    CHECK(c->tenants[0].clock_skew == 200ms);
    CHECK(c->tenants[0].offline_after == 30s);
    CHECK(c->tenants[0].limits.collect_timeout == 5s);

    Diagnostics bad;
    CHECK_FALSE(
        parse_config(std::string(kTenant) + "    clock_skew: soon\n", "/srv/lrsched.yaml", bad)
            .has_value());
    CHECK(bad.to_string().find("/srv/lrsched.yaml:5:17: tenants[0].clock_skew") !=
          std::string::npos);
}
