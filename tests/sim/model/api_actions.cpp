// GET /api/machineactions (list), GET /api/machineactions/{id}, cancel, and
// GetLiveResponseResultDownloadLink. A list call walks every action (up to
// 10^5), building the full entity only for the page it returns.
#include "common/diagnostic.hpp"
#include "sim/model/api.hpp"

namespace lrsched::sim {
namespace {

constexpr std::size_t kMaxCancelBody = 64 * 1024;

nlohmann::json filter_view(const Action& a, double now, Ticks start) {
    return {{"id", a.id},
            {"status", status_name(status_at(a, now))},
            {"machineId", a.machine_id},
            {"type", "LiveResponse"},
            {"requestor", a.requestor},
            {"creationDateTimeUtc",
             iso_time(start + static_cast<Ticks>(std::llround(a.created * 1e7)))}};
}

}  // namespace

const Action* SimApi::visible_action(const std::string& id, double now) const {
    const auto it = action_by_id_.find(lower(id));
    if (it == action_by_id_.end()) return nullptr;
    const Action& a = actions_[it->second];
    // As reported: a fresh action is not readable for a short while.
    if (now < a.created + config_.visibility_lag) return nullptr;
    return &a;
}

HttpResponse SimApi::actions_list(std::string_view query, double now) {
    QueryOptions q = parse_query_options(query, kActionFields);
    if (!q.error.empty()) return error(400, "ODataError", q.error);
    const bool filtered = !q.filter.predicates().empty();
    std::vector<std::size_t> matched;
    for (std::size_t i = 0; i < actions_.size(); ++i) {
        const Action& a = actions_[i];
        if (now < a.created + config_.visibility_lag) continue;
        if (!filtered || q.filter.matches(filter_view(a, now, start_))) matched.push_back(i);
    }
    const std::size_t page = q.top.value_or(kMaxTop);
    nlohmann::json value = nlohmann::json::array();
    for (std::size_t k = q.skip; k < matched.size() && k < q.skip + page; ++k)
        value.push_back(action_json(actions_[matched[k]], now, start_));
    nlohmann::json body = {{"@odata.context", base_ + "/api/$metadata#MachineActions"},
                           {"value", value}};
    if (!q.top && q.skip + page < matched.size()) {
        std::string next = base_ + "/api/machineactions?$skip=" + std::to_string(q.skip + page);
        if (!q.raw_filter.empty()) next += "&$filter=" + percent_encode(q.raw_filter);
        body["@odata.nextLink"] = next;
    }
    return json(200, body);
}

HttpResponse SimApi::action_get(const std::string& id, double now) {
    const Action* a = visible_action(id, now);
    if (a == nullptr)
        return error(404, "ResourceNotFound",
                     "Machine action " + quote_value(id, 80) + " was not found");
    nlohmann::json body = action_json(*a, now, start_);
    body["@odata.context"] = base_ + "/api/$metadata#MachineActions/$entity";
    return json(200, body);
}

HttpResponse SimApi::cancel(const std::string& id, const HttpRequest& req, double now) {
    const Action* found = visible_action(id, now);
    if (found == nullptr)
        return error(404, "ResourceNotFound",
                     "Machine action " + quote_value(id, 80) + " was not found");
    const auto ct = req.header("content-type");
    if (!iequals(ct.substr(0, ct.find(';')), "application/json"))
        return error(415, "UnsupportedMediaType", "Content-Type must be application/json");
    if (req.body.size() > kMaxCancelBody)
        return error(400, "InvalidRequestBody", "The request body is larger than 64 KB");
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return error(400, "InvalidRequestBody", "The request body must be a JSON object");
    for (const auto& [k, v] : body.items())
        if (k != "Comment")
            return error(400, "InvalidRequestBody",
                         "Unknown parameter " + quote_value(k) + " (expected 'Comment')");
    if (!body.contains("Comment"))
        return error(400, "MissingRequiredParameter", "The parameter 'Comment' is required");
    if (!body["Comment"].is_string())
        return error(400, "InvalidRequestBody", "Comment must be a string");
    Action& a = actions_[action_by_id_.at(found->id)];
    const Status s = status_at(a, now);
    if (is_final(s))
        return error(400, "BadRequest",
                     "The action is already in a final state (" + std::string(status_name(s)) +
                         ") and cannot be cancelled");
    a.cancelled_at = now;
    a.cancellation_requestor = config_.client_id;
    a.cancellation_comment = body["Comment"].get<std::string>();
    log_transitions(a, now);
    nlohmann::json out = action_json(a, now, start_);
    out["@odata.context"] = base_ + "/api/$metadata#MachineActions/$entity";
    return json(200, out);
}

HttpResponse SimApi::result_link(const std::string& id, int index, double now) {
    const Action* a = visible_action(id, now);
    if (a == nullptr)
        return error(404, "ResourceNotFound",
                     "Machine action " + quote_value(id, 80) + " was not found");
    if (index < 0 || static_cast<std::size_t>(index) >= a->commands.size())
        return error(400, "BadRequest", "The action has no command with that index");
    const auto i = static_cast<std::size_t>(index);
    if (a->commands[i].type == CommandType::PutFile)
        return error(400, "BadRequest", "A PutFile command has no result");
    if (command_status_at(*a, i, now) != CommandStatus::Completed)
        return error(400, "BadRequest", "The command has not completed; it has no result");
    const std::string blob_id = hex64(mix64(config_.seed ^ 0xb10b) + blobs_.size()) +
                                hex64(hash_of(config_.seed, a->id, i));
    const double expires = now + config_.link_lifetime;
    const std::string se = iso_time_seconds(ticks(expires));
    blobs_[blob_id] = Blob{action_by_id_.at(a->id), i, expires, se};
    const std::string url =
        base_ + "/_sim/blob/" + blob_id + "?se=" + percent_encode(se) +
        "&sp=r&sv=2020-08-04&sr=b&sig=" + hmac_sha256_hex(link_key_, blob_id + "\n" + se);
    return json(200, {{"@odata.context", base_ + "/api/$metadata#Edm.String"}, {"value", url}});
}

}  // namespace lrsched::sim
