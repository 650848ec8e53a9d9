// lrsched-sim's machines API and its OData $filter subset.
#include "sim/model/odata.hpp"
#include "support/sim_harness.hpp"

using lrsched::sim::kActionFields;
using lrsched::sim::kMachineFields;
using lrsched::sim::parse_filter;
using lrsched::test::body_of;
using lrsched::test::SimHarness;

TEST_CASE("sim fleet: generated deterministically from (N, seed)") {
    auto c = lrsched::test::quiet_sim_config();
    c.machines = 200;
    c.seed = 42;
    c.offline_fraction = 0.2;
    c.never_online_fraction = 0.1;
    c.busy_fraction = 0.1;
    const auto a = lrsched::sim::generate_fleet(c, 0);
    const auto b = lrsched::sim::generate_fleet(c, 0);
    REQUIRE(a.size() == 200);
    int never = 0, later = 0, busy = 0;
    std::set<std::string> ids, groups, oses;
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].id == b[i].id);
        CHECK(a[i].online_at == b[i].online_at);
        CHECK(lrsched::is_machine_id(a[i].id));
        CHECK(a[i].id == lrsched::sim::lower(a[i].id));
        ids.insert(a[i].id);
        groups.insert(a[i].rbac_group_name);
        oses.insert(a[i].os_platform);
        if (a[i].online_at == lrsched::sim::kNever) {
            ++never;
            CHECK(a[i].health_status == "Inactive");
        } else if (a[i].online_at > 0) {
            ++later;
            CHECK(a[i].online_at >= c.online_after_min);
            CHECK(a[i].online_at <= c.online_after_max);
        }
        if (a[i].busy_until > 0) ++busy;
    }
    CHECK(ids.size() == 200);
    CHECK(groups == std::set<std::string>{"Domain Controllers", "Servers", "Workstations"});
    CHECK(oses.size() >= 4);
    CHECK(never > 5);
    CHECK(later > 20);
    CHECK(busy > 5);
    CHECK(a[0].computer_dns_name == "dc-00000.sim.contoso.test");
    c.seed = 43;
    CHECK(lrsched::sim::generate_fleet(c, 0)[0].id != a[0].id);
}

TEST_CASE("sim machines: a fleet file replaces the generated fleet") {
    auto loaded = lrsched::sim::load_fleet(
        R"([{"id":"1E5BC9D7E413DDD7902C2932E418702B84D0CC07","computerDnsName":"dc01.contoso.local",
            "machineTags":["tier0"],"never_online":true},
           {"id":"2e5bc9d7e413ddd7902c2932e418702b84d0cc07","computerDnsName":"ws1","online_at":5}])",
        0);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->size() == 2);
    CHECK((*loaded)[0].id == "1e5bc9d7e413ddd7902c2932e418702b84d0cc07");
    CHECK((*loaded)[0].online_at == lrsched::sim::kNever);
    CHECK((*loaded)[1].online_at == 5);
    CHECK_FALSE(lrsched::sim::load_fleet(R"([{"id":"xyz","computerDnsName":"a"}])", 0).ok());
    CHECK_FALSE(
        lrsched::sim::load_fleet(
            R"([{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","computerDnsName":"a","color":"red"}])",
            0)
            .ok());
}

TEST_CASE("sim machines: paging with $top and $skip, 404 when nothing matches") {
    SimHarness h(lrsched::test::quiet_sim_config(), lrsched::test::sim_fleet(25));
    h.login(0);
    const auto all = h.get("/api/machines", 1);
    REQUIRE(all.status == 200);
    const auto b = body_of(all);
    CHECK(b["@odata.context"] == "https://127.0.0.1:4443/api/$metadata#Machines");
    CHECK(b["value"].size() == 25);
    CHECK_FALSE(b.contains("@odata.nextLink"));
    const auto page = body_of(h.get("/api/machines?$top=10&$skip=20", 2));
    REQUIRE(page["value"].size() == 5);
    CHECK(page["value"][0]["id"] == h.machine(20).id);
    CHECK_FALSE(page.contains("@odata.nextLink"));
    CHECK(h.get("/api/machines?$top=10001", 3).status == 400);
    CHECK(body_of(h.get("/api/machines?$top=10001", 3))["error"]["code"] == "ODataError");
    CHECK(h.get("/api/machines?$top=10000", 3).status == 200);
    CHECK(h.get("/api/machines?$skip=abc", 3).status == 400);
    CHECK(h.get("/api/machines?$orderby=id", 3).status == 400);
    const auto none = h.get("/api/machines?$filter=computerDnsName+eq+'nope'", 4);
    CHECK(none.status == 404);
    CHECK(body_of(none)["error"]["code"] == "ResourceNotFound");
}

TEST_CASE("sim machines: filters on fields, tags and 'and', by id or name") {
    SimHarness h(lrsched::test::quiet_sim_config(), lrsched::test::sim_fleet(10));
    h.login(0);
    auto count = [&](const std::string& query) {
        const auto r = h.get("/api/machines?" + query, 1);
        return r.status == 200 ? body_of(r)["value"].size() : 0;
    };
    CHECK(count("$filter=machineTags/any(t:%20t%20eq%20'tier0')") == 5);
    CHECK(
        count("$filter=MachineTags/any(tag: tag eq 'workstation') and osPlatform eq 'Windows11'") ==
        5);
    CHECK(count("$filter=(rbacGroupName eq 'Servers') and (computerDnsName eq 'WS-3.test')") == 1);
    CHECK(count("$filter=healthStatus+ne+'Active'") == 0);
    CHECK(count("$filter=id eq '" + h.machine(4).id + "'") == 1);
    CHECK(count("$filter=lastSeen gt 2018-08-01Z") == 10);
    CHECK(count("$filter=lastSeen ge 2024-12-31T23:00:00Z") == 10);
    CHECK(count("$filter=lastSeen gt 2024-12-31T23:00:00Z") == 0);
    CHECK(h.get("/api/machines/" + h.machine(3).id, 2).status == 200);
    const auto by_name = h.get("/api/machines/ws-3.test", 2);
    REQUIRE(by_name.status == 200);
    CHECK(body_of(by_name)["id"] == h.machine(3).id);
    CHECK(h.get("/api/machines/ws-99.test", 2).status == 404);
}

TEST_CASE("sim odata: everything outside the documented subset is a clear error") {
    auto err = [](std::string_view f) { return parse_filter(f, kActionFields).error; };
    CHECK(err("status eq 'Pending'").empty());
    CHECK(err("Status eq 'Pending' and creationDateTimeUtc ge 2024-01-01T00:00:00.5Z").empty());
    CHECK(err("status eq 'a' or status eq 'b'").find("'or' is not supported") != std::string::npos);
    CHECK(err("status in ('a','b')").find("operator \"in\"") != std::string::npos);
    CHECK(err("not (status eq 'a')").find("not") != std::string::npos);
    CHECK(err("color eq 'red'").find("not supported") != std::string::npos);
    CHECK(err("status gt 'a'").find("only eq and ne") != std::string::npos);
    CHECK(err("creationDateTimeUtc gt '2024-01-01'").find("unquoted") != std::string::npos);
    CHECK(err("status eq 'unterminated").find("unterminated") != std::string::npos);
    CHECK(err("(status eq 'a'").find("unbalanced") != std::string::npos);
    CHECK(err("status eq 'a')").find("unbalanced") != std::string::npos);
    CHECK(err(std::string(100, '(') + "status eq 'a'" + std::string(100, ')')).find("deeply") !=
          std::string::npos);
    CHECK(err(std::string(5000, ' ')).find("longer than") != std::string::npos);
    CHECK(err("").find("empty") != std::string::npos);
    CHECK(parse_filter("machineTags eq 'x'", kMachineFields).error.find("collection") !=
          std::string::npos);
    // Quotes are escaped by doubling.
    const auto f = parse_filter("requestor eq 'o''brien'", kActionFields);
    REQUIRE(f.error.empty());
    CHECK(f.filter.matches({{"requestor", "O'Brien"}}));
    CHECK_FALSE(f.filter.matches({{"requestor", "obrien"}}));
}
