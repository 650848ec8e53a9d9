// Drives lrsched-sim's API model directly (no sockets): a SimApi over a
// hand-made fleet, with helpers to log in and call endpoints at chosen `now`.
#pragma once

#include "common/text.hpp"
#include "sim/model/api.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lrsched::test {

// A simulator configuration with every random behaviour switched off.
inline sim::SimConfig quiet_sim_config() {
    sim::SimConfig c;
    c.offline_fraction = 0;
    c.never_online_fraction = 0;
    c.busy_fraction = 0;
    c.putfile_duration = 2;
    c.runscript_duration = 5;
    c.getfile_duration = 3;
    return c;
}

// Machine i: id "aaaa...<8 hex of i>", name ws-<i>.test.
inline sim::Machine sim_machine(int i, double online_at = 0, double busy_until = 0) {
    sim::Machine m;
    char id[48];
    std::snprintf(id, sizeof id, "%032x%08x", 0, i);
    m.id = std::string(id).replace(0, 32, std::string(32, 'a'));
    m.computer_dns_name = "ws-" + std::to_string(i) + ".test";
    m.os_platform = i % 2 == 0 ? "Windows11" : "WindowsServer2022";
    m.health_status = online_at == 0 ? "Active" : "Inactive";
    m.rbac_group_name = i % 2 == 0 ? "Workstations" : "Servers";
    m.machine_tags = {i % 2 == 0 ? "workstation" : "tier0"};
    m.last_seen = (1735689600 - 3600) * sim::kTicksPerSecond;  // an hour before sim start
    m.first_seen = m.last_seen - 86400 * sim::kTicksPerSecond;
    m.online_at = online_at;
    m.busy_until = busy_until;
    return m;
}

inline std::vector<sim::Machine> sim_fleet(int n) {
    std::vector<sim::Machine> out;
    for (int i = 0; i < n; ++i)
        out.push_back(sim_machine(i));
    return out;
}

inline nlohmann::json body_of(const sim::HttpResponse& r) {
    return nlohmann::json::parse(r.body, nullptr, false);
}

inline std::string header_of(const sim::HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

// Body of a runliveresponse call: commands as (type, [(key, value)...]).
inline std::string lr_body(
    const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>&
        commands,
    const std::string& comment = "test") {
    nlohmann::json cmds = nlohmann::json::array();
    for (const auto& [type, params] : commands) {
        nlohmann::json ps = nlohmann::json::array();
        for (const auto& [k, v] : params)
            ps.push_back({{"key", k}, {"value", v}});
        cmds.push_back({{"type", type}, {"params", ps}});
    }
    return nlohmann::json{{"Commands", cmds}, {"Comment", comment}}.dump();
}

inline std::string script_body(const std::string& comment = "test") {
    return lr_body({{"RunScript", {{"ScriptName", "minidump.ps1"}}}}, comment);
}

class SimHarness {
  public:
    explicit SimHarness(sim::SimConfig config = quiet_sim_config(),
                        std::vector<sim::Machine> machines = sim_fleet(4),
                        std::unique_ptr<sim::Ledger> ledger = nullptr)
        : api(std::move(config), std::move(machines), std::move(ledger)) {
        api.set_base_url("https://127.0.0.1:4443");
    }

    sim::HttpResponse call(const std::string& method,
                           const std::string& target,
                           const std::string& body,
                           double now,
                           const std::string& content_type = "application/json",
                           bool with_token = true) {
        sim::HttpRequest req;
        req.method = method;
        req.target = target;
        req.body = body;
        if (!content_type.empty()) req.headers.emplace_back("content-type", content_type);
        if (with_token) req.headers.emplace_back("authorization", "Bearer " + token);
        return api.handle(req, now);
    }
    sim::HttpResponse get(const std::string& target, double now) {
        return call("GET", target, "", now, "");
    }
    sim::HttpResponse post(const std::string& target, const std::string& body, double now) {
        return call("POST", target, body, now);
    }

    sim::HttpResponse token_call(const std::string& form,
                                 double now,
                                 const std::string& tenant = "") {
        const std::string t = tenant.empty() ? api.config().tenant : tenant;
        return call("POST", "/" + t + "/oauth2/v2.0/token", form, now,
                    "application/x-www-form-urlencoded", false);
    }
    std::string form(
        const std::string& id,
        const std::string& secret,
        const std::string& scope = "https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default") {
        return "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret +
               "&scope=" + scope;
    }
    void login(double now) {
        const auto r = token_call(form(api.config().client_id, api.config().client_secret), now);
        REQUIRE(r.status == 200);
        token = body_of(r)["access_token"].get<std::string>();
    }

    // Submits `body` to machine `m`; returns the response.
    sim::HttpResponse submit(const sim::Machine& m, const std::string& body, double now) {
        return post("/api/machines/" + m.id + "/runliveresponse", body, now);
    }
    nlohmann::json action(const std::string& id, double now) {
        const auto r = get("/api/machineactions/" + id, now);
        REQUIRE(r.status == 200);
        return body_of(r);
    }
    const sim::Machine& machine(std::size_t i) const { return api.fleet().all().at(i); }

    sim::SimApi api;
    std::string token;
};

}  // namespace lrsched::test
