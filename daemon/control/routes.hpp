// The control API (SPEC §6): every client command as an HTTP/JSON route,
// and `GET /metrics`. The routes are pure functions from a request to a
// response over a Backend (the running daemon's read model and its
// commands); they hold no state and touch no socket, so they are
// unit-tested with a fake Backend.
//
// Routes (all answers JSON unless said; errors are {"error": "..."} with
// 400 bad request, 403 not allowed here, 404 unknown job or route, 405
// method, 409 conflict, 500 the daemon's own failure):
//   GET  /v1/status[?job=J][&format=text]    view::to_json(Overview) or the status text
//   GET  /v1/sessions?job=J[&state=S][&format=text]
//   POST /v1/jobs/J/run                      {"message": "..."}  (and "run": id)
//   POST /v1/jobs/J/pause, /v1/jobs/J/resume {"message": "..."}
//   POST /v1/jobs/J/cancel[?machine=ID]      {"message": "...", "cancelled": n, "on_server": n}
//   POST /v1/reload                          {"message": "..."}
//   GET  /v1/jobs/J/plan[?format=text]       (answered by the runtime: it calls the API)
//   GET  /metrics                            Prometheus text format 0.0.4
//   GET  /                                   the status page (text/html)
// On the TCP listener of `metrics.listen` only GET /metrics, GET / and
// GET /v1/status answer; every other route is 403 there.
//
// Folder control/: the control API's routes and the CLI's client of it.
// May include: view/, store/ (its report types), sessions/, config/,
// common/. No Asio.
#pragma once

#include "common/http_message.hpp"
#include "common/result.hpp"
#include "sessions/session_state.hpp"
#include "store/report.hpp"
#include "view/overview.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched::control {

// What an action route did, in one line for the operator, plus numbers for
// scripts.
struct ActionOutcome {
    std::string message;
    std::optional<std::int64_t> run;  // run: the run started
    std::int64_t cancelled = 0;       // cancel: queued sessions cancelled at once
    std::int64_t on_server = 0;       // cancel: actions whose cancel call was sent or is due
};

// The daemon as the routes see it. Errors: Errc::not_found for an unknown
// job or machine (404), Errc::invalid_input for a request that cannot be
// done as asked (409: e.g. run while the job file is deleted), anything
// else is the daemon's (500).
class Backend {
  public:
    virtual ~Backend() = default;
    virtual const config::Config& config() const = 0;
    virtual Result<view::Overview> overview(std::optional<std::string_view> job) = 0;
    virtual Result<store::SessionsReport> sessions(std::string_view job,
                                                   std::optional<sessions::SessionState> state) = 0;
    virtual Result<ActionOutcome> run_now(std::string_view job) = 0;
    virtual Result<ActionOutcome> set_paused(std::string_view job, bool paused) = 0;
    virtual Result<ActionOutcome> cancel(std::string_view job,
                                         std::optional<std::string_view> machine) = 0;
    virtual Result<ActionOutcome> reload() = 0;
    // The Prometheus text of view/metrics.hpp for this moment.
    virtual std::string metrics() = 0;
    // The status page's HTML (view/status_page.hpp).
    virtual const std::string& status_page() = 0;
};

// A request the routes leave to the runtime because it needs API calls:
// `plan` (its machine listing shares the daemon's read budget).
struct PlanRequest {
    std::string job;
    bool text = false;  // format=text
};

// Routes `req`. For GET /v1/jobs/J/plan, returns the PlanRequest in
// `plan` and a response the caller replaces with the plan's.
HttpResponse route(const HttpRequest& req, Backend& backend, std::optional<PlanRequest>* plan);

// {"error": message} with `status`; the message is cut to one line.
HttpResponse error_response(int status, std::string_view message);
// The status for an Error from the Backend (see above).
int status_for(const Error& e);

}  // namespace lrsched::control
