// SimApi: the pure model of the MDE live response API behind lrsched-sim.
// Requests in, responses out, `now` passed in; no socket, thread or clock
// but one: a client assertion's nbf/exp are Unix times, checked against the
// wall clock (injectable, set_wall_clock()) plus clock_offset.
// It owns the fleet, the library, the tokens, the actions and every counter
// /_sim/stats reports. Expected load: a few hundred requests a minute from
// one daemon, up to 10^5 actions and 10^6 machines per run.
//
// Check order of /api calls (the first that applies answers):
//   1. route known? (unknown path: 404 NotFound, after auth)
//   2. bearer token valid and unexpired, else 401 Unauthorized
//   3. the call is counted in its rate window(s); over the rate: 429
//      (runliveresponse: submit window; every other /api call: both read windows)
//   4. injected faults: reset, 500, 503, foreign 429 (nothing done); slow adds a delay
//   5. the endpoint's own checks; for runliveresponse: unknown machine 404 ->
//      Content-Type 415 -> body size/JSON/shape 400 -> library names 400 ->
//      machine busy 400 ActiveRequestAlreadyExists -> concurrency cap 429 -> 201
//   6. runliveresponse only: created_but_lost turns the 201 into a 500 or a reset
// The token endpoint and /_sim/* are never throttled or faulted. A wrong
// method on a known path is 405 before auth; a transport-enacted reset
// is an HttpResponse with status 0 and Fault::reset_before_reply.
//
// Choices where the documentation is silent:
//   - runliveresponse takes the machine id only (GET /api/machines/{x} also
//     takes computerDnsName); Content-Type must be application/json (415).
//   - Unknown or wrong-case keys, wrong types, empty Commands, bad order,
//     duplicate params, control characters: 400 InvalidRequestBody; absent
//     required keys: 400 MissingRequiredParameter; a PutFile/RunScript file
//     not in the library: 400 BadRequest. Library names are case-sensitive.
//   - Retry-After: whole seconds, at least 1, rounded up to the moment the
//     window (refused calls included) or the first counted session frees.
//   - 429 bodies are all {"error":{"code":"TooManyRequests",...}}; /_sim/stats
//     tells the reasons apart (submit_rate, concurrency, read_rate, foreign).
//   - An unreachable machine's action ends TimeOut at creation+queue_expiry;
//     a RunScript past runscript_timeout ends Failed (command Failed with an
//     error string); errors[] holds strings; errorHResult stays 0.
//   - Cancel of a final action: 400 BadRequest. A command running when its
//     action is cancelled becomes Failed; later ones stay Created.
//   - Result link of a PutFile, of a command not Completed, or a bad index:
//     400 BadRequest. Downloads: 403 with Azure's XML AuthenticationFailed
//     body for a bad signature or an expired link.
//   - GET /api/machines: 404 ResourceNotFound only when the filter matches no
//     machine (a page past the end is 200 with an empty value); the actions
//     list is 200 with an empty value. String comparisons in $filter are
//     case-insensitive. Actions carry both lastUpdateDateTimeUtc and
//     lastUpdateTimeUtc (the list page's spelling).
//   - Library upload: "File" part name matched case-insensitively (the docs'
//     curl example sends "file"); an existing name without
//     OverrideIfExists=true: 400 BadRequest; over 20 MB: 400 BadRequest.
//   - requestor and cancellationRequestor are the client id.
#pragma once

#include "sim/model/action.hpp"
#include "sim/model/assertion.hpp"
#include "sim/model/fleet.hpp"
#include "sim/model/ledger.hpp"
#include "sim/model/library.hpp"
#include "sim/model/odata.hpp"
#include "sim/model/rate_window.hpp"
#include "sim/model/sim_config.hpp"
#include "sim/model/tag_matcher.hpp"
#include "sim/sim_http.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lrsched::sim {

enum class Endpoint {
    token,
    machines_list,
    machine_get,
    runliveresponse,
    actions_list,
    action_get,
    cancel,
    result_link,
    library_list,
    library_upload,
    library_delete,
    blob,
    stats,
    hooks_post,
    hooks_get,
    unknown,
};

const char* endpoint_name(Endpoint e);

class SimApi final : public Handler {
  public:
    // Uses `machines` as the fleet and appends to `ledger` when not null.
    // `config.start_time` defaults to 2025-01-01T00:00:00Z.
    SimApi(SimConfig config, std::vector<Machine> machines, std::unique_ptr<Ledger> ledger);

    // Generates or loads the fleet (machines_file) and opens the ledger file.
    static Result<std::unique_ptr<SimApi>> create(SimConfig config);

    // Registers a certificate on the app, next to any already there
    // (lrsched-sim's main does it for each of config.client_certs).
    void add_client_cert(ClientCert cert) { assertions_.add(std::move(cert)); }
    // Unix seconds that assertion times are checked against, before
    // clock_offset is added; the system clock unless a test sets another.
    void set_wall_clock(std::function<double()> clock) { wall_clock_ = std::move(clock); }

    HttpResponse handle(const HttpRequest& request, double now) override;

    // The transport's https://host:port, used in links and @odata.context.
    void set_base_url(std::string base) { base_ = std::move(base); }
    const std::string& base_url() const noexcept { return base_; }

    const SimConfig& config() const noexcept { return config_; }
    const Fleet& fleet() const noexcept { return fleet_; }
    Ticks start_ticks() const noexcept { return start_; }
    nlohmann::json stats(double now);

  private:
    struct Route {
        Endpoint endpoint = Endpoint::unknown;
        std::string arg;  // machine id, action id, library file name, blob id
        int index = -1;   // GetLiveResponseResultDownloadLink(index=N)
        bool bad_method = false;
        bool api = false;  // under /api: needs a bearer token
    };
    struct Blob {
        std::size_t action;
        std::size_t index;
        double expires;
        std::string se;
    };

    Route route(const HttpRequest& req, std::string_view path) const;
    HttpResponse dispatch(const Route& r,
                          const HttpRequest& req,
                          std::string_view query,
                          double now);
    HttpResponse api_call(const Route& r,
                          const HttpRequest& req,
                          std::string_view query,
                          double now);
    void advance(double now);
    void log_transitions(Action& a, double now);

    // api_token.cpp
    HttpResponse token(const HttpRequest& req, std::string_view tenant, double now);
    HttpResponse entra_error(
        int status, const std::string& error, int code, const std::string& description, double now);
    bool authorized(const HttpRequest& req, double now) const;
    std::optional<Refusal> check_assertion(const HttpRequest& req,
                                           const Params& form,
                                           std::string_view tenant);
    // api_machines.cpp
    HttpResponse machines_list(std::string_view query, double now);
    HttpResponse machine_get(const std::string& id, double now);
    // api_submit.cpp
    HttpResponse runliveresponse(const std::string& machine, const HttpRequest& req, double now);
    HttpResponse create_action(std::size_t machine,
                               std::vector<PlannedCommand> commands,
                               std::optional<std::string> comment,
                               double now);
    // api_actions.cpp
    HttpResponse actions_list(std::string_view query, double now);
    HttpResponse action_get(const std::string& id, double now);
    HttpResponse cancel(const std::string& id, const HttpRequest& req, double now);
    HttpResponse result_link(const std::string& id, int index, double now);
    const Action* visible_action(const std::string& id, double now) const;
    // api_library.cpp
    HttpResponse library_list();
    HttpResponse library_upload(const HttpRequest& req, double now);
    HttpResponse library_delete(const std::string& name);
    HttpResponse blob(const std::string& id, std::string_view query, double now);
    // api_hooks.cpp
    HttpResponse hooks_post(const std::string& name,
                            const HttpRequest& req,
                            std::string_view query);
    HttpResponse hooks_get(const std::string& name) const;

    // Helpers shared by the endpoint files (api.cpp).
    HttpResponse error(int status, const std::string& code, const std::string& message);
    HttpResponse json(int status, const nlohmann::json& body) const;
    HttpResponse too_many(const std::string& reason, double wait, const std::string& message);
    Ticks ticks(double now) const;

    SimConfig config_;
    Ticks start_;
    Fleet fleet_;
    Library library_;
    std::unique_ptr<Ledger> ledger_;
    TagMatcher tags_matcher_;
    std::string base_ = "https://127.0.0.1";
    std::string link_key_;
    GuidSource guids_;

    std::unordered_map<std::string, double> tokens_;  // access token -> expiry
    std::uint64_t tokens_issued_ = 0;
    AssertionVerifier assertions_;
    int faulted_replays_ = 0;  // assertions answered as replays by fault_replay
    std::function<double()> wall_clock_ = system_wall_clock;
    std::map<int, std::uint64_t> token_errors_;  // AADSTS code -> refusals answered
    // Tokens issued by the credential that earned them: "secret", or the
    // registered certificate's file (rotation tests: which one signed).
    std::map<std::string, std::uint64_t> tokens_by_credential_;

    SlidingWindow submit_window_;
    SlidingWindow read_window_;
    SlidingWindow read_window_long_;
    BusiestWindow busiest_submits_;
    BusiestWindow busiest_accepted_submits_;

    std::vector<Action> actions_;
    std::unordered_map<std::string, std::size_t> action_by_id_;
    std::vector<std::size_t> active_;  // actions not yet final at the last advance()
    std::vector<std::optional<std::size_t>> last_action_of_machine_;
    std::unordered_map<std::string, Blob> blobs_;

    // Observation.
    std::map<std::string, std::map<int, std::uint64_t>> calls_;
    std::map<std::string, std::uint64_t> throttled_;
    std::map<std::string, std::uint64_t> faults_;
    std::map<std::string, std::uint64_t> tags_;
    std::uint64_t fault_draws_ = 0;
    std::uint64_t lost_ = 0;
    std::uint64_t blob_draws_ = 0;
    int library_unavailable_[2] = {0, 0};  // listings, uploads answered 503 so far

    // Webhook receiver (api_hooks.cpp): every post to /hooks/<name>, in order.
    struct HookPost {
        int status;
        std::string body;  // cut at kMaxHookBody
    };
    std::map<std::string, std::vector<HookPost>> hooks_;
};

}  // namespace lrsched::sim
