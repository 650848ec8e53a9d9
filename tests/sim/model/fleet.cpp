// Fleet generation from (N, seed) and loading from a JSON file (see fleet.hpp).
#include "sim/model/fleet.hpp"

#include "common/diagnostic.hpp"
#include "common/text.hpp"

#include <cstdio>
#include <set>

namespace lrsched::sim {
namespace {

using namespace std::string_literals;  // NUL inside a literal

constexpr Ticks kDay = 86'400 * kTicksPerSecond;

struct Draw {
    std::uint64_t seed;
    std::uint64_t index;
    double operator()(std::uint64_t salt) const {
        return unit_double(mix64(mix64(seed ^ (index * 0x9e3779b97f4a7c15ULL)) + salt));
    }
};

template <std::size_t N>
const char* pick(const char* const (&options)[N], double u) {
    return options[static_cast<std::size_t>(u * N) % N];
}

std::string machine_id(std::uint64_t seed, std::uint64_t index, std::uint64_t attempt) {
    std::string id;
    for (std::uint64_t k = 0; id.size() < 40; ++k)
        id += hex64(mix64(seed * 0x2545f4914f6cdd1dULL + index * 7919 + attempt * 104729 + k));
    return id.substr(0, 40);
}

// --hostile-strings: four machines in five get a name that would forge a
// log line, or a field of one, if a client logged it raw. Machine 0 (a
// domain controller) keeps its name: the forgeries claim to be about it.
std::string hostile_name(int i, const std::string& name, const Machine& first) {
    switch (i % 5) {
        case 1:
            return name + "\r\n2025-01-01T00:00:00.000Z info job=sweep run=1 machine=" +
                   first.computer_dns_name + " machine_id=" + first.id +
                   " action=- state=done from=running attempt=1";
        case 2:
            return "\x1b[31m" + name + "\x1b[0m\x1b[2J\x1b]0;owned\x07";
        case 3:
            return name + "\0 state=done"s;
        case 4:
            return name + " state=done machine_id=" + first.id;
        default:
            return name;
    }
}

}  // namespace

std::string hostile_text() {
    // ESC, NUL and a field first: a client may keep only the first line.
    return " \x1b[31mforged-by-server\x1b[0m\0 state=done"
           "\r\n2025-01-01T00:00:00.000Z critical job=sweep run=1 state=done"s;
}

std::string listed_name(const std::string& name, std::uint64_t bytes) {
    if (name.size() >= bytes) return name;
    std::string out = name;
    out.reserve(bytes);
    while (out.size() < bytes) {
        out += '.';
        out.append(std::min<std::uint64_t>(63, bytes - out.size()), 'x');
    }
    return out;
}

std::vector<Machine> generate_fleet(const SimConfig& c, Ticks start) {
    std::vector<Machine> out;
    out.reserve(static_cast<std::size_t>(c.machines));
    std::set<std::string> ids;
    for (int i = 0; i < c.machines; ++i) {
        const Draw u{c.seed, static_cast<std::uint64_t>(i)};
        Machine m;
        for (std::uint64_t attempt = 0; m.id.empty() || !ids.insert(m.id).second; ++attempt)
            m.id = machine_id(c.seed, static_cast<std::uint64_t>(i), attempt);
        char name[64];
        if (i % 40 == 0) {
            std::snprintf(name, sizeof name, "dc-%05d.sim.contoso.test", i);
            m.os_platform = pick({"WindowsServer2019", "WindowsServer2022"}, u(1));
            m.rbac_group_name = "Domain Controllers";
            m.rbac_group_id = 1;
            m.machine_tags = {"tier0", "dc"};
        } else if (i % 5 == 1) {
            std::snprintf(name, sizeof name, "srv-%05d.sim.contoso.test", i);
            m.os_platform = pick(
                {"WindowsServer2019", "WindowsServer2022", "WindowsServer2022", "Linux"}, u(1));
            m.rbac_group_name = "Servers";
            m.rbac_group_id = 2;
            m.machine_tags = {"server"};
            if (u(2) < 0.3) m.machine_tags.emplace_back("tier1");
        } else {
            std::snprintf(name, sizeof name, "ws-%05d.sim.contoso.test", i);
            m.os_platform = pick({"Windows10", "Windows10", "Windows11", "Windows11", "Windows11",
                                  "Windows11", "Windows10", "Windows11", "Windows10", "macOS"},
                                 u(1));
            m.rbac_group_name = "Workstations";
            m.rbac_group_id = 3;
            m.machine_tags = {"workstation"};
        }
        m.computer_dns_name = name;
        if (c.hostile_strings && i > 0) m.computer_dns_name = hostile_name(i, name, out[0]);
        if (u(3) < 0.03) m.machine_tags.emplace_back("no-live-response");
        m.last_ip_address = "10." + std::to_string((i >> 16) & 255) + "." +
                            std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
        m.first_seen = start - static_cast<Ticks>((100 + u(4) * 600) * static_cast<double>(kDay));

        // One draw decides the behaviour, so the fractions partition the fleet.
        const double b = u(5);
        const double never = c.never_online_fraction;
        const double offline = never + c.offline_fraction;
        const double busy = offline + c.busy_fraction;
        m.health_status = "Active";
        m.last_seen = start - static_cast<Ticks>(u(6) * 6 * 3600 * kTicksPerSecond);
        if (b < never) {
            m.online_at = kNever;
            m.health_status = "Inactive";
            m.last_seen = start - static_cast<Ticks>((30 + u(6) * 60) * static_cast<double>(kDay));
        } else if (b < offline) {
            m.online_at = c.online_after_min + u(7) * (c.online_after_max - c.online_after_min);
            if (u(8) < 0.8) m.health_status = "Inactive";
            m.last_seen = start - static_cast<Ticks>((1 + u(6) * 9) * static_cast<double>(kDay));
        } else if (b < busy) {
            m.busy_until = c.busy_for_min + u(7) * (c.busy_for_max - c.busy_for_min);
        }
        if (m.first_seen > m.last_seen) m.first_seen = m.last_seen;
        m.odd_output = static_cast<std::uint64_t>(i) < c.odd_machines;
        out.push_back(std::move(m));
    }
    return out;
}

Result<std::vector<Machine>> load_fleet(std::string_view json_text, Ticks start) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::parse_error& e) {
        return Error(Errc::invalid_input, std::string("machines file: ") + e.what());
    }
    if (!doc.is_array()) return Error(Errc::invalid_input, "machines file: expected a JSON array");
    std::vector<Machine> out;
    std::set<std::string> ids;
    static const std::set<std::string> kKnown = {
        "id",        "computerDnsName", "osPlatform",    "healthStatus", "lastSeen",
        "firstSeen", "machineTags",     "rbacGroupName", "rbacGroupId",  "lastIpAddress",
        "online_at", "busy_until",      "never_online",  "odd_output"};
    for (std::size_t i = 0; i < doc.size(); ++i) {
        const auto& j = doc[i];
        const std::string where = "machines file: [" + std::to_string(i) + "]";
        if (!j.is_object()) return Error(Errc::invalid_input, where + ": expected an object");
        for (const auto& [k, v] : j.items())
            if (kKnown.count(k) == 0)
                return Error(Errc::invalid_input, where + ": unknown field " + quote_value(k));
        auto str = [&](const char* key, std::string dflt) -> Result<std::string> {
            if (!j.contains(key)) return dflt;
            if (!j[key].is_string())
                return Error(Errc::invalid_input, where + "." + key + ": expected a string");
            return j[key].get<std::string>();
        };
        auto num = [&](const char* key) -> Result<double> {
            if (!j.contains(key)) return 0.0;
            if (!j[key].is_number() || j[key].get<double>() < 0)
                return Error(Errc::invalid_input, where + "." + key + ": expected seconds >= 0");
            return j[key].get<double>();
        };
        Machine m;
        auto id = str("id", "");
        auto name = str("computerDnsName", "");
        auto os = str("osPlatform", "Windows11");
        auto health = str("healthStatus", "Active");
        auto group = str("rbacGroupName", "");
        auto ip = str("lastIpAddress", "");
        auto seen = str("lastSeen", iso_time(start));
        auto first = str("firstSeen", iso_time(start));
        auto online = num("online_at");
        auto busy = num("busy_until");
        for (auto* r : {&id, &name, &os, &health, &group, &ip, &seen, &first})
            if (!*r) return r->error();
        if (!online) return online.error();
        if (!busy) return busy.error();
        if (!is_machine_id(*id))
            return Error(Errc::invalid_input, where + ".id: expected 40 hex digits");
        m.id = lower(*id);
        if (!ids.insert(m.id).second)
            return Error(Errc::invalid_input, where + ".id: duplicate id");
        if (!is_hostname(*name))
            return Error(Errc::invalid_input, where + ".computerDnsName: expected a host name");
        m.computer_dns_name = *name;
        m.os_platform = *os;
        m.health_status = *health;
        m.rbac_group_name = *group;
        m.last_ip_address = *ip;
        auto ls = parse_iso_time(*seen);
        auto fs = parse_iso_time(*first);
        if (!ls || !fs)
            return Error(Errc::invalid_input, where + ": lastSeen/firstSeen must be ISO UTC");
        m.last_seen = *ls;
        m.first_seen = *fs;
        if (j.contains("rbacGroupId")) {
            if (!j["rbacGroupId"].is_number_integer())
                return Error(Errc::invalid_input, where + ".rbacGroupId: expected a number");
            m.rbac_group_id = j["rbacGroupId"].get<int>();
        }
        if (j.contains("machineTags")) {
            if (!j["machineTags"].is_array())
                return Error(Errc::invalid_input, where + ".machineTags: expected a list");
            for (const auto& t : j["machineTags"]) {
                if (!t.is_string())
                    return Error(Errc::invalid_input, where + ".machineTags: expected strings");
                m.machine_tags.push_back(t.get<std::string>());
            }
        }
        m.online_at = *online;
        m.busy_until = *busy;
        if (j.contains("never_online")) {
            if (!j["never_online"].is_boolean())
                return Error(Errc::invalid_input, where + ".never_online: expected true or false");
            if (j["never_online"].get<bool>()) m.online_at = kNever;
        }
        if (j.contains("odd_output")) {
            if (!j["odd_output"].is_boolean())
                return Error(Errc::invalid_input, where + ".odd_output: expected true or false");
            m.odd_output = j["odd_output"].get<bool>();
        }
        out.push_back(std::move(m));
    }
    return out;
}

Machine reported_at(const Machine& m, double now, Ticks start) {
    Machine r = m;
    if (m.online_at > 0 && m.online_at != kNever && now >= m.online_at) {
        r.health_status = "Active";
        r.last_seen =
            std::max(m.last_seen, start + static_cast<Ticks>(m.online_at * kTicksPerSecond));
    }
    return r;
}

nlohmann::json machine_json(const Machine& m, std::uint64_t name_bytes) {
    return {{"id", m.id},
            {"computerDnsName", listed_name(m.computer_dns_name, name_bytes)},
            {"firstSeen", iso_time(m.first_seen)},
            {"lastSeen", iso_time(m.last_seen)},
            {"osPlatform", m.os_platform},
            {"osArchitecture", "64-bit"},
            {"version", nullptr},
            {"lastIpAddress", m.last_ip_address},
            {"lastExternalIpAddress", nullptr},
            {"healthStatus", m.health_status},
            {"onboardingStatus", "Onboarded"},
            {"deviceValue", "Normal"},
            {"rbacGroupId", m.rbac_group_id},
            {"rbacGroupName", m.rbac_group_name},
            {"riskScore", "None"},
            {"exposureLevel", "Low"},
            {"isAadJoined", false},
            {"aadDeviceId", nullptr},
            {"machineTags", m.machine_tags}};
}

Fleet::Fleet(std::vector<Machine> machines) : machines_(std::move(machines)) {
    for (std::size_t i = 0; i < machines_.size(); ++i) {
        by_id_.emplace(machines_[i].id, i);
        by_name_.emplace(lower(machines_[i].computer_dns_name), i);
    }
}

std::optional<std::size_t> Fleet::find_id(std::string_view id) const {
    const auto it = by_id_.find(lower(id));
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::size_t> Fleet::find(std::string_view id_or_name) const {
    if (auto i = find_id(id_or_name)) return i;
    const auto it = by_name_.find(lower(id_or_name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

}  // namespace lrsched::sim
