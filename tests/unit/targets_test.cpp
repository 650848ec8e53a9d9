#include "jobs/targets.hpp"

#include <doctest/doctest.h>

using lrsched::api::Machine;
using lrsched::jobs::looks_offline;
using lrsched::jobs::parse_iso8601_ms;
using lrsched::jobs::resolve_targets;
using lrsched::jobs::Targets;

namespace {

Machine machine(
    char c, const char* host, const char* os, std::vector<std::string> tags, const char* group) {
    Machine m;
    m.id = std::string(40, c);
    m.computer_dns_name = host;
    m.os_platform = os;
    m.tags = std::move(tags);
    m.rbac_group_name = group;
    m.health_status = "Active";
    return m;
}

const std::vector<Machine> kFleet = {
    machine('a', "dc01.contoso.local", "WindowsServer2022", {"tier0"}, "Domain Controllers"),
    machine('b',
            "dc02.contoso.local",
            "WindowsServer2019",
            {"tier0", "no-live-response"},
            "Domain Controllers"),
    machine('c', "ws01.contoso.local", "Windows11", {"workstation"}, "Workstations"),
    machine('d', "lx01.contoso.local", "Linux", {"tier0"}, "Servers"),
};

std::vector<std::string> ids(const lrsched::jobs::Resolution& r) {
    std::vector<std::string> out;
    for (const auto& m : r.machines)
        out.push_back(m.computer_dns_name);
    return out;
}

}  // namespace

TEST_CASE("targets are the union of the selectors, each machine once") {
    Targets t;
    t.include.tags = {"tier0"};
    t.include.groups = {"Domain Controllers"};
    t.include.hostnames = {"ws01.contoso.local"};
    t.include.machines = {std::string(40, 'a')};
    CHECK(ids(resolve_targets(t, kFleet)) ==
          std::vector<std::string>{"dc01.contoso.local", "dc02.contoso.local", "ws01.contoso.local",
                                   "lx01.contoso.local"});
}

TEST_CASE("os narrows and exclude removes") {
    Targets t;
    t.include.tags = {"tier0"};
    t.os = {"WindowsServer2019", "WindowsServer2022"};
    t.exclude.tags = {"no-live-response"};
    const auto r = resolve_targets(t, kFleet);
    CHECK(ids(r) == std::vector<std::string>{"dc01.contoso.local"});
    CHECK(r.excluded == 1);
}

TEST_CASE("named machines missing from the listing are reported, not silently dropped") {
    Targets t;
    t.include.machines = {std::string(40, 'a'), std::string(40, 'f')};
    t.include.hostnames = {"gone.contoso.local"};
    const auto r = resolve_targets(t, kFleet);
    CHECK(r.machines.size() == 1);
    CHECK(r.unknown_ids == std::vector<std::string>{std::string(40, 'f')});
    CHECK(r.unknown_hostnames == std::vector<std::string>{"gone.contoso.local"});
}

TEST_CASE("a machine looks offline when not Active or not seen for a while") {
    const auto now = *parse_iso8601_ms("2026-11-22T12:00:00Z");
    Machine m = kFleet[0];
    m.last_seen = "2026-11-22T01:00:00.1234567Z";
    CHECK_FALSE(looks_offline(m, now, 48LL * 3600 * 1000));
    m.last_seen = "2026-11-19T01:00:00Z";
    CHECK(looks_offline(m, now, 48LL * 3600 * 1000));
    m.last_seen = "2026-11-22T01:00:00Z";
    m.health_status = "Inactive";
    CHECK(looks_offline(m, now, 48LL * 3600 * 1000));
}

TEST_CASE("ISO 8601 times are read as the API writes them") {
    CHECK(parse_iso8601_ms("1970-01-01T00:00:01Z") == 1000);
    CHECK(parse_iso8601_ms("2026-11-22T10:00:00.5Z") ==
          *parse_iso8601_ms("2026-11-22T10:00:00Z") + 500);
    CHECK(parse_iso8601_ms("2026-11-22T10:00:00+00:00") ==
          *parse_iso8601_ms("2026-11-22T10:00:00Z"));
    for (const char* bad : {"", "2026-11-22", "2026-11-22T10:00:00", "2026-13-22T10:00:00Z",
                            "2026-11-22T10:00:00+01:00", "yyyy-mm-ddThh:mm:ssZ"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_iso8601_ms(bad).has_value());
    }
}
