#include "jobs/targets.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <ctime>
#include <string_view>
#include <unordered_set>

namespace lrsched::jobs {
namespace {

using Set = std::unordered_set<std::string>;

Set set_of(const std::vector<std::string>& v) {
    return Set(v.begin(), v.end());
}

bool any_in(const std::vector<std::string>& values, const Set& wanted) {
    return std::any_of(values.begin(), values.end(),
                       [&](const std::string& v) { return wanted.count(v) > 0; });
}

struct Matcher {
    Set ids, hosts, tags, groups;
    explicit Matcher(const Selectors& s)
        : ids(set_of(s.machines)),
          hosts(set_of(s.hostnames)),
          tags(set_of(s.tags)),
          groups(set_of(s.groups)) {}
    bool operator()(const api::Machine& m) const {
        return ids.count(m.id) || hosts.count(m.computer_dns_name) || any_in(m.tags, tags) ||
               groups.count(m.rbac_group_name);
    }
};

}  // namespace

Resolution resolve_targets(const Targets& targets, std::vector<api::Machine> fleet) {
    const Matcher include(targets.include);
    const Matcher exclude(targets.exclude);
    const Set os = set_of(targets.os);
    Resolution r;
    // Only the names the job gives are remembered (a few), never the fleet's
    // (10^5): memory stays that of the listing itself.
    Set missing_ids = set_of(targets.include.machines);
    Set missing_hosts = set_of(targets.include.hostnames);
    std::unordered_set<std::string_view> taken;  // views into `fleet`, not modified below
    std::vector<std::size_t> chosen;
    for (std::size_t i = 0; i < fleet.size(); ++i) {
        const api::Machine& m = fleet[i];
        missing_ids.erase(m.id);
        missing_hosts.erase(m.computer_dns_name);
        if (!include(m)) continue;
        if (!os.empty() && !os.count(m.os_platform)) continue;
        if (exclude(m)) {
            ++r.excluded;
            continue;
        }
        if (taken.insert(m.id).second) chosen.push_back(i);
    }
    taken.clear();  // its views die with the moves below
    // Compacted in place and handed over: no second array of 10^5 machines.
    std::size_t kept = 0;
    for (const std::size_t i : chosen) {
        if (i != kept) fleet[kept] = std::move(fleet[i]);
        ++kept;
    }
    fleet.resize(kept);
    r.machines = std::move(fleet);
    for (const auto& id : targets.include.machines)
        if (missing_ids.count(id)) r.unknown_ids.push_back(id);
    for (const auto& h : targets.include.hostnames)
        if (missing_hosts.count(h)) r.unknown_hostnames.push_back(h);
    return r;
}

std::optional<std::int64_t> parse_iso8601_ms(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+00:00)
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return std::nullopt;
    const auto num = [&](std::size_t pos, std::size_t len) -> int {
        int n = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            n = n * 10 + (s[i] - '0');
        }
        return n;
    };
    std::tm tm{};
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(5, 2) - 1;
    tm.tm_mday = num(8, 2);
    tm.tm_hour = num(11, 2);
    tm.tm_min = num(14, 2);
    tm.tm_sec = num(17, 2);
    if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
        tm.tm_sec > 60)
        return std::nullopt;
    std::size_t i = 19;
    std::int64_t ms = 0;
    if (i < s.size() && s[i] == '.') {
        std::int64_t scale = 100;
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10)
            ms += (s[i] - '0') * scale;
    }
    const std::string_view zone = s.substr(i);
    if (zone != "Z" && zone != "+00:00") return std::nullopt;
    return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

bool looks_offline(const api::Machine& m, std::int64_t now_ms, std::int64_t stale_after_ms) {
    if (to_lower(m.health_status) != "active") return true;
    const auto seen = parse_iso8601_ms(m.last_seen);
    return seen && now_ms - *seen > stale_after_ms;
}

}  // namespace lrsched::jobs
