#include "api/mde.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace lrsched::api {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

CommandStatus parse_command_status(std::string_view s) {
    const std::string l = to_lower(s);
    if (l == "created") return CommandStatus::created;
    if (l == "completed") return CommandStatus::completed;
    if (l == "failed") return CommandStatus::failed;
    return CommandStatus::unknown;
}

Result<MachineAction> action_from(const json& j) {
    if (!j.is_object()) return Error{Errc::server_error, "machine action: not a JSON object"};
    MachineAction a;
    a.id = str(j, "id");
    if (a.id.empty()) return Error{Errc::server_error, "machine action: no id"};
    a.machine_id = to_lower(str(j, "machineId"));
    a.computer_dns_name = str(j, "computerDnsName");
    a.requestor = str(j, "requestor");
    a.comment = str(j, "requestorComment");
    a.status_text = str(j, "status");
    a.status = parse_action_status(a.status_text);
    a.created = str(j, "creationDateTimeUtc");
    // The list page's example says lastUpdateTimeUtc; the entity says lastUpdateDateTimeUtc.
    a.last_update = str(j, "lastUpdateDateTimeUtc");
    if (a.last_update.empty()) a.last_update = str(j, "lastUpdateTimeUtc");
    if (const auto cmds = j.find("commands"); cmds != j.end() && cmds->is_array()) {
        for (const auto& c : *cmds) {
            if (!c.is_object()) continue;
            ActionCommand ac;
            if (const auto i = c.find("index"); i != c.end() && i->is_number_integer())
                ac.index = i->get<int>();
            ac.status = parse_command_status(str(c, "commandStatus"));
            if (const auto inner = c.find("command"); inner != c.end() && inner->is_object())
                ac.type = str(*inner, "type");
            if (const auto e = c.find("errors"); e != c.end() && !e->empty()) ac.errors = e->dump();
            a.commands.push_back(std::move(ac));
        }
    }
    return a;
}

// Parses `text` and hands the document to `f`.
template <typename F>
auto parse_json(std::string_view text, const char* what, F&& f) -> decltype(f(json())) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        return Error{Errc::server_error, std::string(what) + ": response is not JSON"};
    return f(j);
}

}  // namespace

std::string run_live_response_body(const std::vector<Command>& commands, std::string_view comment) {
    json cmds = json::array();
    for (const auto& c : commands) {
        json params = json::array();
        switch (c.type) {
            case CommandType::PutFile:
                params.push_back({{"key", "FileName"}, {"value", c.param}});
                break;
            case CommandType::RunScript:
                params.push_back({{"key", "ScriptName"}, {"value", c.param}});
                if (c.args) params.push_back({{"key", "Args"}, {"value", *c.args}});
                break;
            case CommandType::GetFile:
                params.push_back({{"key", "Path"}, {"value", c.param}});
                break;
        }
        cmds.push_back({{"type", to_string(c.type)}, {"params", std::move(params)}});
    }
    return json{{"Commands", std::move(cmds)}, {"Comment", comment}}.dump();
}

std::string odata_string(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'') out += '\'';
        out += c;
    }
    out += '\'';
    return out;
}

std::string url_encode(std::string_view value) {
    std::string out;
    for (unsigned char c : value) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

ActionStatus parse_action_status(std::string_view status) noexcept {
    const std::string s = to_lower(status);
    if (s == "pending") return ActionStatus::pending;
    if (s == "inprogress") return ActionStatus::in_progress;
    if (s == "succeeded") return ActionStatus::succeeded;
    if (s == "failed") return ActionStatus::failed;
    if (s == "timeout") return ActionStatus::timed_out;
    if (s == "cancelled" || s == "canceled")
        return ActionStatus::cancelled;  // both spellings are documented
    return ActionStatus::unknown;
}

std::string_view to_string(ActionStatus s) noexcept {
    switch (s) {
        case ActionStatus::pending:
            return "Pending";
        case ActionStatus::in_progress:
            return "InProgress";
        case ActionStatus::succeeded:
            return "Succeeded";
        case ActionStatus::failed:
            return "Failed";
        case ActionStatus::timed_out:
            return "TimeOut";
        case ActionStatus::cancelled:
            return "Cancelled";
        case ActionStatus::unknown:
            break;
    }
    return "unknown";
}

Result<MachineAction> parse_machine_action(std::string_view text) {
    return parse_json(text, "machine action", [](const json& j) { return action_from(j); });
}

Result<std::vector<MachineAction>> parse_machine_action_list(std::string_view text) {
    return parse_json(
        text, "machine action list", [](const json& j) -> Result<std::vector<MachineAction>> {
            const auto v = j.is_object() ? j.find("value") : j.end();
            if (v == j.end() || !v->is_array())
                return Error{Errc::server_error, "machine action list: no value array"};
            std::vector<MachineAction> out;
            out.reserve(v->size());
            for (const auto& item : *v) {
                auto a = action_from(item);
                if (!a) return std::move(a).error();
                out.push_back(std::move(*a));
            }
            return out;
        });
}

Result<MachineList> parse_machine_list(std::string_view text) {
    static constexpr std::string_view kKeep[] = {"id",           "computerDnsName", "osPlatform",
                                                 "healthStatus", "lastSeen",        "rbacGroupName",
                                                 "machineTags"};
    MachineList out;
    // While parsing: members not in kKeep are dropped (a page of 10,000
    // machines costs a few MB, not a hundred), and so is any string longer
    // than kMaxListedString (6 KB names would otherwise sit in the page's
    // document). Depth 3: an entity's members; 4: the items of its tags.
    json::parser_callback_t filter = [&out](int depth, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::key && depth == 3) {
            const auto& name = parsed.get_ref<const std::string&>();
            return std::find(std::begin(kKeep), std::end(kKeep), name) != std::end(kKeep);
        }
        if (event == json::parse_event_t::value && depth >= 3 && parsed.is_string() &&
            parsed.get_ref<const std::string&>().size() > kMaxListedString) {
            parsed = nullptr;
            ++out.refused_values;
        }
        return true;
    };
    json j = json::parse(text, filter, false);
    if (j.is_discarded()) return Error{Errc::server_error, "machine list: response is not JSON"};
    const auto v = j.is_object() ? j.find("value") : j.end();
    if (v == j.end() || !v->is_array())
        return Error{Errc::server_error, "machine list: no value array"};
    // A field over its cap reads as absent.
    const auto capped = [&out](const json& item, const char* key, std::size_t cap) {
        std::string s = str(item, key);
        if (s.size() <= cap) return s;
        ++out.refused_values;
        return std::string();
    };
    out.machines.reserve(v->size());
    for (const auto& item : *v) {
        if (!item.is_object())
            return Error{Errc::server_error, "machine list: an entry is not an object"};
        Machine m;
        m.id = to_lower(str(item, "id"));
        if (!is_machine_id(m.id)) {
            ++out.bad_ids;
            continue;
        }
        m.computer_dns_name = to_lower(capped(item, "computerDnsName", kMaxDnsName));
        m.os_platform = capped(item, "osPlatform", kMaxShortField);
        m.health_status = capped(item, "healthStatus", kMaxShortField);
        m.last_seen = capped(item, "lastSeen", kMaxShortField);
        m.rbac_group_name = capped(item, "rbacGroupName", kMaxListedString);
        if (const auto t = item.find("machineTags"); t != item.end() && t->is_array()) {
            for (const auto& tag : *t) {
                if (!tag.is_string()) continue;
                const auto& s = tag.get_ref<const std::string&>();
                if (s.size() > kMaxTag || m.tags.size() == kMaxTags)
                    ++out.refused_values;
                else
                    m.tags.push_back(s);
            }
        }
        out.machines.push_back(std::move(m));
    }
    return out;
}

ApiError parse_api_error(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return {};
    const auto e = j.find("error");
    if (e == j.end() || !e->is_object()) return {};
    return {str(*e, "code"), str(*e, "message")};
}

std::string http_error_text(int status, std::string_view body) {
    const ApiError err = parse_api_error(body);
    std::string out = "HTTP " + std::to_string(status);
    if (!err.code.empty()) out += " " + log_value(err.code, 100);
    if (!err.message.empty()) out += ": " + quote_value(err.message, 300);
    return out;
}

SubmitResult classify_submit(int status, std::string_view body) {
    SubmitResult r;
    const ApiError err = parse_api_error(body);
    r.error_code = err.code;
    r.message = http_error_text(status, body);
    if (status >= 200 && status < 300) {
        auto a = parse_machine_action(body);
        if (a) {
            r.outcome = SubmitOutcome::created;
            r.action = std::move(*a);
            r.message.clear();
        } else {
            // Created, most likely, but we cannot say which action: reconcile.
            r.outcome = SubmitOutcome::unknown;
            r.message = "HTTP " + std::to_string(status) +
                        " without a readable action: " + a.error().message;
        }
    } else if (status == 400 &&
               (err.code == "ActiveRequestAlreadyExists" ||
                body.find("ActiveRequestAlreadyExists") != std::string_view::npos)) {
        r.outcome = SubmitOutcome::busy;
    } else if (status == 404) {
        r.outcome = SubmitOutcome::not_found;
    } else if (status == 429) {
        r.outcome = SubmitOutcome::throttled;
    } else if (status == 401) {
        r.outcome = SubmitOutcome::unauthorized;
    } else if (status == 403) {
        r.outcome = SubmitOutcome::forbidden;
    } else if (status >= 400 && status < 500 && status != 408) {
        r.outcome = SubmitOutcome::rejected;
    } else {
        r.outcome = SubmitOutcome::unknown;  // 408, 5xx, anything odd: the action may exist
    }
    return r;
}

}  // namespace lrsched::api
