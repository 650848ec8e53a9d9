// GET /api/machines (with $filter/$top/$skip; 404 when nothing matches, as
// the real API does) and GET /api/machines/{id or computerDnsName}.
// A list call walks the whole fleet (up to 10^6 machines), building a small
// JSON view per machine only when a $filter needs one.
#include "common/diagnostic.hpp"
#include "sim/model/api.hpp"

namespace lrsched::sim {
namespace {

nlohmann::json filter_view(const Machine& m) {
    return {{"computerDnsName", m.computer_dns_name}, {"id", m.id},
            {"healthStatus", m.health_status},        {"osPlatform", m.os_platform},
            {"rbacGroupName", m.rbac_group_name},     {"machineTags", m.machine_tags},
            {"lastSeen", iso_time(m.last_seen)}};
}

}  // namespace

HttpResponse SimApi::machines_list(std::string_view query, double now) {
    QueryOptions q = parse_query_options(query, kMachineFields);
    if (!q.error.empty()) return error(400, "ODataError", q.error);
    const auto& all = fleet_.all();
    const bool filtered = !q.filter.predicates().empty();
    std::vector<std::size_t> matched;
    for (std::size_t i = 0; i < all.size(); ++i)
        if (!filtered || q.filter.matches(filter_view(reported_at(all[i], now, start_))))
            matched.push_back(i);
    if (matched.empty()) return error(404, "ResourceNotFound", "No machines found");

    const std::size_t page = q.top.value_or(kMaxTop);
    nlohmann::json value = nlohmann::json::array();
    for (std::size_t k = q.skip; k < matched.size() && k < q.skip + page; ++k)
        value.push_back(
            machine_json(reported_at(all[matched[k]], now, start_), config_.long_names));
    nlohmann::json body = {{"@odata.context", base_ + "/api/$metadata#Machines"}, {"value", value}};
    // As reported: with $top there is never a nextLink; without it, one
    // appears when more than a page remains.
    if (!q.top && q.skip + page < matched.size()) {
        std::string next = base_ + "/api/machines?$skip=" + std::to_string(q.skip + page);
        if (!q.raw_filter.empty()) next += "&$filter=" + percent_encode(q.raw_filter);
        body["@odata.nextLink"] = next;
    }
    return json(200, body);
}

HttpResponse SimApi::machine_get(const std::string& id, double now) {
    const auto i = fleet_.find(id);
    if (!i)
        return error(404, "ResourceNotFound", "Machine " + quote_value(id, 80) + " was not found");
    nlohmann::json body =
        machine_json(reported_at(fleet_.all()[*i], now, start_), config_.long_names);
    body["@odata.context"] = base_ + "/api/$metadata#Machines/$entity";
    return json(200, body);
}

}  // namespace lrsched::sim
