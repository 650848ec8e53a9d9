// A live response action and its lifecycle. The whole life of an action is
// planned when it is created (when its machine becomes reachable, how long
// each command runs, which RunScript fails or hangs); its status at any
// `now` is then a pure function, so no timer ever runs. Cancel cuts the plan.
// Up to 10^5 actions per simulator run; each costs a few hundred bytes.
#pragma once

#include "sim/model/fleet.hpp"
#include "sim/model/sim_config.hpp"
#include "sim/model/sim_util.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lrsched::sim {

enum class CommandType { PutFile, RunScript, GetFile };
enum class Outcome { completed, failed, timed_out };
enum class Status { Pending, InProgress, Succeeded, Failed, TimeOut, Cancelled };
enum class CommandStatus { Created, Completed, Failed };

const char* command_type_name(CommandType t);
const char* status_name(Status s);
bool is_final(Status s);

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct PlannedCommand {
    CommandType type = CommandType::PutFile;
    KeyValues params;  // exactly as sent
    double start = kNever;
    double end = kNever;
    Outcome outcome = Outcome::completed;
    int exit_code = 0;  // RunScript transcript

    const std::string* param(std::string_view key) const;
};

struct Action {
    std::string id;
    std::size_t machine = 0;  // index in the fleet
    std::string machine_id;
    std::string computer_dns_name;
    std::string requestor;
    std::optional<std::string> comment;
    std::string tag;  // correlation tag found in the comment, or empty
    double created = 0;
    double expires = 0;         // created + queue_expiry
    double run_start = kNever;  // kNever: the machine is not reached before expiry
    double end = kNever;        // the last command run ends
    bool fails = false;         // a command fails or times out
    std::vector<PlannedCommand> commands;

    std::optional<double> cancelled_at;
    std::string cancellation_requestor;
    std::string cancellation_comment;
    std::size_t transitions_logged = 0;  // ledger bookkeeping
};

// Plans run_start, command times and outcomes. Which RunScript fails or
// hangs is a function of (seed, action id, index).
void plan_action(Action& a, const Machine& m, const SimConfig& c);

Status status_at(const Action& a, double t);
CommandStatus command_status_at(const Action& a, std::size_t index, double t);

// The moment the action reached (or will reach) its final status.
double final_time(const Action& a);

struct Transition {
    double at;
    Status status;
};
// Every status the action takes, in order, with its moment (the last one may
// lie in the future).
std::vector<Transition> transitions(const Action& a);

// The MachineAction entity as seen at `t`; with `creation_answer`, as the
// runliveresponse call that created it answers (always Pending).
nlohmann::json action_json(const Action& a, double t, Ticks start, bool creation_answer = false);

}  // namespace lrsched::sim
