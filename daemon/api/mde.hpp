// The MDE API as plain data (mde-api.md): request bodies built from a run's
// commands (api/command.hpp), the query parts of the request paths, and
// responses parsed and classified into what the dispatcher does next. Pure:
// no sockets, no clock. Tolerates the API's documented quirks: 200 or 201 on
// create, `Cancelled` or `Canceled`, `lastUpdateDateTimeUtc` or
// `lastUpdateTimeUtc`, ActiveRequestAlreadyExists found by its code in a 400.
//
// Folder api/: the MDE API's wire format and the types shared with the rest
// (Machine, MachineAction, Command); includes common/ only.
#pragma once

#include "api/command.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::api {

// ---- requests ------------------------------------------------------------

// The runliveresponse body, with the documented casing (Commands/Comment,
// type/params/key/value) and commands in the job's (validated) order.
std::string run_live_response_body(const std::vector<Command>& commands, std::string_view comment);

// OData string literal: single quotes, inner quotes doubled.
std::string odata_string(std::string_view value);
// Percent-encodes a query component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view value);

// ---- responses -----------------------------------------------------------

enum class ActionStatus { pending, in_progress, succeeded, failed, timed_out, cancelled, unknown };
ActionStatus parse_action_status(std::string_view status) noexcept;
std::string_view to_string(ActionStatus s) noexcept;

enum class CommandStatus { created, completed, failed, unknown };

struct ActionCommand {
    int index = 0;
    std::string type;  // PutFile, RunScript, GetFile
    CommandStatus status = CommandStatus::unknown;
    std::string errors;  // the errors array as compact JSON, for messages
};

struct MachineAction {
    std::string id;
    std::string machine_id;
    std::string computer_dns_name;
    std::string requestor;
    std::string comment;
    ActionStatus status = ActionStatus::unknown;
    std::string status_text;  // as the server spelled it
    std::string created;      // ISO 8601, as sent
    std::string last_update;
    std::vector<ActionCommand> commands;
};

// One MachineAction entity (create, get or cancel answer).
Result<MachineAction> parse_machine_action(std::string_view json);
// A list answer: {"value": [...]}.
Result<std::vector<MachineAction>> parse_machine_action_list(std::string_view json);

struct Machine {
    std::string id;  // lower-case
    std::string computer_dns_name;
    std::string os_platform;
    std::string health_status;
    std::string last_seen;
    std::vector<std::string> tags;
    std::string rbac_group_name;
};

// What a machine listing may make the daemon keep (issue 10, C12): a 10^5
// machine fleet is held while a run is queued, so no server can grow it with
// long strings. A value over its cap is refused (left out as if absent),
// never cut: a cut name could equal another machine's, or match a
// `hostnames:` selector it does not match whole.
inline constexpr std::size_t kMaxListedString = 256;  // any string, while parsing
inline constexpr std::size_t kMaxDnsName = 253;       // RFC 1035
inline constexpr std::size_t kMaxTag = 200;           // MDE's own limit on a tag
inline constexpr std::size_t kMaxTags = 64;           // per machine
inline constexpr std::size_t kMaxShortField = 64;     // osPlatform, healthStatus, lastSeen
// Before parsing, a string over this many bytes as sent is dropped whole
// (LongStringFilter): \uXXXX is 6 bytes for 1, so nothing kept is lost.
inline constexpr std::size_t kMaxRawListedString = 6 * kMaxListedString;

struct MachineList {
    std::vector<Machine> machines;
    std::size_t bad_ids = 0;         // entries dropped: their id is not 40 hex
    std::size_t refused_values = 0;  // strings (or tags) over their cap, left out
};
// A page of GET /api/machines. Entries without a valid id are dropped and
// counted (the caller warns once per listing); only a body that is not a
// listing at all is an error.
Result<MachineList> parse_machine_list(std::string_view json);

// The API's error body {"error": {"code", "message", "target"}}; code and
// message are empty when the body is something else.
struct ApiError {
    std::string code;
    std::string message;
};
ApiError parse_api_error(std::string_view body);
// For a message: "HTTP <status>", then the API's code and message when the
// body has them, the message quoted (quote_value: it is the server's text):
// `HTTP 400 BadRequest: "File \"x.ps1\" was not found..."`.
std::string http_error_text(int status, std::string_view body);

// What a runliveresponse answer means for the session that sent it.
enum class SubmitOutcome {
    created,       // 2xx with an action id
    busy,          // 400 ActiveRequestAlreadyExists
    not_found,     // 404: the machine is unknown
    throttled,     // 429: wait (Retry-After) and try again; never lost
    unauthorized,  // 401: refresh the token once
    forbidden,     // 403: pause the tenant
    rejected,      // another 4xx: final, the server's message kept
    unknown,       // 5xx, or 2xx without a readable id: reconcile before anything else
};

struct SubmitResult {
    SubmitOutcome outcome = SubmitOutcome::unknown;
    std::optional<MachineAction> action;  // with created
    std::string error_code;               // the API's code, when any
    std::string message;                  // for the session's last_error
};

SubmitResult classify_submit(int status, std::string_view body);

// How one submit call ended, as the client (mde/api_client.hpp) saw it:
// an HTTP answer, or a network failure and whether a byte left.
struct SubmitAnswer {
    std::optional<Error> net_error;  // no HTTP answer at all
    bool request_sent = true;        // false: failed before a byte left (connect, TLS)
    int status = 0;
    std::string body;
    std::string retry_after;  // the header, when any
};

}  // namespace lrsched::api
