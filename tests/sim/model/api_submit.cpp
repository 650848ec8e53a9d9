// POST /api/machines/{id}/runliveresponse: strict body validation, the busy
// and concurrency checks, and the creation of the action. At most
// `submit_calls` per window reach here; each costs a walk of the active set.
#include "common/diagnostic.hpp"
#include "sim/model/api.hpp"

#include <algorithm>

namespace lrsched::sim {
namespace {

constexpr std::size_t kMaxBody = 1u << 20;

struct Invalid {
    std::string code;  // InvalidRequestBody | MissingRequiredParameter
    std::string message;
};

// `allowed` keys only (names are case-sensitive), `required` among them present.
std::optional<Invalid> check_keys(const nlohmann::json& obj,
                                  const std::string& where,
                                  std::initializer_list<std::string_view> allowed,
                                  std::initializer_list<std::string_view> required) {
    if (!obj.is_object()) return Invalid{"InvalidRequestBody", where + " must be a JSON object"};
    for (const auto& [k, v] : obj.items()) {
        if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
        for (auto a : allowed)
            if (iequals(a, k))
                return Invalid{"InvalidRequestBody", where + ": parameter " + quote_value(k) +
                                                         " has the wrong case; expected '" +
                                                         std::string(a) + "'"};
        return Invalid{"InvalidRequestBody", where + ": unknown parameter " + quote_value(k)};
    }
    for (auto r : required)
        if (!obj.contains(std::string(r)))
            return Invalid{"MissingRequiredParameter",
                           where + ": required parameter '" + std::string(r) + "' is missing"};
    return std::nullopt;
}

std::optional<Invalid> parse_command(const nlohmann::json& c, std::size_t i, PlannedCommand& out) {
    const std::string where = "Commands[" + std::to_string(i) + "]";
    if (auto bad = check_keys(c, where, {"type", "params"}, {"type", "params"})) return bad;
    const auto& type = c["type"];
    if (!type.is_string()) return Invalid{"InvalidRequestBody", where + ".type must be a string"};
    const std::string& t = type.get_ref<const std::string&>();
    std::vector<std::string_view> keys, required;
    if (t == "PutFile") {
        out.type = CommandType::PutFile;
        keys = {"FileName"};
        required = {"FileName"};
    } else if (t == "RunScript") {
        out.type = CommandType::RunScript;
        keys = {"ScriptName", "Args"};
        required = {"ScriptName"};
    } else if (t == "GetFile") {
        out.type = CommandType::GetFile;
        keys = {"Path"};
        required = {"Path"};
    } else {
        return Invalid{"InvalidRequestBody", where + ": unknown command type " + quote_value(t) +
                                                 " (PutFile, RunScript or GetFile)"};
    }
    const auto& params = c["params"];
    if (!params.is_array())
        return Invalid{"InvalidRequestBody", where + ".params must be an array"};
    for (std::size_t k = 0; k < params.size(); ++k) {
        const std::string pw = where + ".params[" + std::to_string(k) + "]";
        if (auto bad = check_keys(params[k], pw, {"key", "value"}, {"key", "value"})) return bad;
        const auto& key = params[k]["key"];
        const auto& value = params[k]["value"];
        if (!key.is_string() || !value.is_string())
            return Invalid{"InvalidRequestBody", pw + ": key and value must be strings"};
        const std::string& ks = key.get_ref<const std::string&>();
        const std::string& vs = value.get_ref<const std::string&>();
        if (std::find(keys.begin(), keys.end(), ks) == keys.end())
            return Invalid{"InvalidRequestBody", pw + ": " + t + " takes no parameter " +
                                                     quote_value(ks) +
                                                     " (names are case-sensitive)"};
        if (out.param(ks) != nullptr)
            return Invalid{"InvalidRequestBody", pw + ": parameter '" + ks + "' given twice"};
        if (std::any_of(vs.begin(), vs.end(),
                        [](char ch) { return static_cast<unsigned char>(ch) < 0x20; }))
            return Invalid{"InvalidRequestBody", pw + ": control characters in a value"};
        if (vs.empty() && ks != "Args")
            return Invalid{"InvalidRequestBody", pw + ": '" + ks + "' must not be empty"};
        out.params.emplace_back(ks, vs);
    }
    for (auto r : required)
        if (out.param(r) == nullptr)
            return Invalid{"MissingRequiredParameter",
                           where + ": " + t + " needs the parameter '" + std::string(r) + "'"};
    return std::nullopt;
}

std::optional<Invalid> parse_body(const nlohmann::json& body,
                                  std::vector<PlannedCommand>& commands,
                                  std::optional<std::string>& comment) {
    if (auto bad = check_keys(body, "The request body", {"Commands", "Comment"}, {"Commands"}))
        return bad;
    if (body.contains("Comment")) {
        if (!body["Comment"].is_string())
            return Invalid{"InvalidRequestBody", "Comment must be a string"};
        comment = body["Comment"].get<std::string>();
        if (comment->find('\0') != std::string::npos)
            return Invalid{"InvalidRequestBody", "Comment contains a NUL character"};
    }
    const auto& cmds = body["Commands"];
    if (!cmds.is_array() || cmds.empty())
        return Invalid{"InvalidRequestBody", "Commands must be a non-empty array"};
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        PlannedCommand c;
        if (auto bad = parse_command(cmds[i], i, c)) return bad;
        if (!commands.empty() && c.type < commands.back().type)
            return Invalid{"InvalidRequestBody",
                           "Commands must be in the order PutFile, then RunScript, then GetFile; "
                           "Commands[" +
                               std::to_string(i) + "] (" + command_type_name(c.type) +
                               ") comes after " + command_type_name(commands.back().type)};
        commands.push_back(std::move(c));
    }
    return std::nullopt;
}

}  // namespace

HttpResponse SimApi::runliveresponse(const std::string& machine,
                                     const HttpRequest& req,
                                     double now) {
    const auto mi = fleet_.find_id(machine);
    if (!mi)
        return error(404, "ResourceNotFound",
                     "Machine " + quote_value(machine, 80) + " was not found");
    const auto ct = req.header("content-type");
    if (!iequals(ct.substr(0, ct.find(';')), "application/json"))
        return error(415, "UnsupportedMediaType", "Content-Type must be application/json");
    if (req.body.size() > kMaxBody)
        return error(400, "InvalidRequestBody", "The request body is larger than 1 MB");
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded())
        return error(400, "InvalidRequestBody", "The request body is not valid JSON");
    std::vector<PlannedCommand> commands;
    std::optional<std::string> comment;
    if (auto bad = parse_body(body, commands, comment)) return error(400, bad->code, bad->message);
    for (const auto& c : commands) {
        const std::string* name = c.type == CommandType::PutFile     ? c.param("FileName")
                                  : c.type == CommandType::RunScript ? c.param("ScriptName")
                                                                     : nullptr;
        if (name != nullptr && library_.find(*name) == nullptr)
            return error(
                400, "BadRequest",
                "File " + quote_value(*name) + " was not found in the live response library");
    }
    const Machine& m = fleet_.all()[*mi];
    const auto last = last_action_of_machine_[*mi];
    if (now < m.busy_until || (last && !is_final(status_at(actions_[*last], now))))
        return error(400, "ActiveRequestAlreadyExists",
                     "A live response session is already active on machine " + m.id);
    std::size_t counted = 0;
    double frees = kNever;
    for (std::size_t i : active_) {
        const Status s = status_at(actions_[i], now);
        if (s == Status::InProgress ||
            (s == Status::Pending && config_.pending_counts_as_running)) {
            ++counted;
            frees = std::min(frees, final_time(actions_[i]));
        }
    }
    if (counted >= static_cast<std::size_t>(config_.concurrent_sessions))
        return too_many("concurrency", frees - now,
                        "Too many concurrent live response sessions (" + std::to_string(counted) +
                            " of " + std::to_string(config_.concurrent_sessions) + ")");
    return create_action(*mi, std::move(commands), std::move(comment), now);
}

HttpResponse SimApi::create_action(std::size_t machine,
                                   std::vector<PlannedCommand> commands,
                                   std::optional<std::string> comment,
                                   double now) {
    const Machine& m = fleet_.all()[machine];
    Action a;
    a.id = guids_.next();
    a.machine = machine;
    a.machine_id = m.id;
    a.computer_dns_name = listed_name(m.computer_dns_name, config_.long_names);
    a.requestor = config_.client_id;
    a.tag = tags_matcher_.find(comment);
    a.comment = std::move(comment);
    a.created = now;
    a.commands = std::move(commands);
    plan_action(a, m, config_);
    if (!a.tag.empty()) ++tags_[a.tag];
    const std::size_t index = actions_.size();
    action_by_id_.emplace(a.id, index);
    actions_.push_back(std::move(a));
    active_.push_back(index);
    last_action_of_machine_[machine] = index;
    log_transitions(actions_[index], now);
    nlohmann::json body = action_json(actions_[index], now, start_, true);
    body["@odata.context"] = base_ + "/api/$metadata#MachineActions/$entity";
    return json(201, body);
}

}  // namespace lrsched::sim
