// The simulated fleet: the machines the API lists and their hidden behaviour
// (when each comes online, whether someone else's session keeps it busy).
// Generated deterministically from (N, seed) or loaded from a JSON file; up
// to 10^6 machines, read on every machines call and every submit.
#pragma once

#include "common/result.hpp"
#include "sim/model/sim_config.hpp"
#include "sim/model/sim_util.hpp"

#include <nlohmann/json.hpp>

#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lrsched::sim {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

struct Machine {
    std::string id;  // 40 lowercase hex
    std::string computer_dns_name;
    std::string os_platform;
    std::string health_status;  // Active | Inactive
    std::string rbac_group_name;
    int rbac_group_id = 0;
    Ticks first_seen = 0;
    Ticks last_seen = 0;
    std::vector<std::string> machine_tags;
    std::string last_ip_address;
    // Hidden behaviour, in sim seconds.
    double online_at = 0;   // kNever: never reachable
    double busy_until = 0;  // a foreign live response session holds it until then
    // Its scripts print one line more than the others' (`lrsched stack`'s
    // odd one out); the rest of a script's output is the same on every machine.
    bool odd_output = false;
};

// N machines from (seed); `start` is the wall-clock instant of sim time 0.
std::vector<Machine> generate_fleet(const SimConfig& config, Ticks start);

// A JSON array of machine objects: the public fields (id and computerDnsName
// required) plus optional `online_at`, `busy_until` (seconds) and
// `never_online` (bool). Unknown fields are errors.
Result<std::vector<Machine>> load_fleet(std::string_view json_text, Ticks start);

// The Machine entity as GET /api/machines shows it (hidden fields left out),
// its computerDnsName padded to `name_bytes` (see listed_name).
nlohmann::json machine_json(const Machine& m, std::uint64_t name_bytes = 0);

// The machine as the API reports it at sim time `now` (`start` is the
// wall-clock instant of sim time 0): once a late machine has come online it
// is `Active` and has sent a full report (lastSeen), as a real sensor does
// when it reconnects; before, and for one never online, as generated.
Machine reported_at(const Machine& m, double now, Ticks start);

// `name` padded with labels of 'x' to `bytes` (SimConfig::long_names); as is
// when it is that long already or `bytes` is 0.
std::string listed_name(const std::string& name, std::uint64_t bytes);

// Text for --hostile-strings, to append to a server's message: ESC
// sequences, NUL and a forged `state=done` field, then CR LF and a forged
// log line. It names itself "forged-by-server".
std::string hostile_text();

class Fleet {
  public:
    explicit Fleet(std::vector<Machine> machines);

    const std::vector<Machine>& all() const noexcept { return machines_; }
    // By id (either case) or computerDnsName (case-insensitive), as
    // GET /api/machines/{id} accepts both; nullopt when unknown.
    std::optional<std::size_t> find(std::string_view id_or_name) const;
    std::optional<std::size_t> find_id(std::string_view id) const;

  private:
    std::vector<Machine> machines_;
    std::unordered_map<std::string, std::size_t> by_id_;
    std::unordered_map<std::string, std::size_t> by_name_;
};

}  // namespace lrsched::sim
