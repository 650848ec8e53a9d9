// The control API's listeners and the answers that need the network: the
// Unix socket of `control.socket` (every client command), the loopback TCP
// address of `metrics.listen` (metrics, the status page and its status
// JSON), and `plan`, whose machine and library listings go through the
// tenant's own client so they share the daemon's read budget. Expected
// load: a few requests a minute.
#include "common/log_text.hpp"
#include "runtime/shell.hpp"
#include "view/metrics.hpp"
#include "view/plan.hpp"
#include "view/status_page.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace lrsched::runtime {

std::string Daemon::metrics() {
    auto o = overview(std::nullopt);
    if (!o)
        return "# lrsched: the store cannot be read: " + escape_log_message(o.error().message) +
               "\n";
    return view::prometheus_text(*o);
}

const std::string& Daemon::status_page() {
    return view::status_page_html();
}

bool Daemon::open_control() {
    const auto handler = [this](HttpRequest req) { return answer(std::move(req)); };
    auto sock =
        net::ControlServer::listen_unix(io_, cfg_.control.socket, cfg_.control.mode, handler);
    if (sock) {
        spdlog::info("control socket {} (mode {:04o})", log_value(cfg_.control.socket),
                     cfg_.control.mode);
        control_.push_back(std::move(*sock));
    } else if (sock.error().code == Errc::permission_denied) {
        // Another process answers there: clients would talk to it, not to
        // us. Refusing to start says so at once.
        spdlog::critical("control socket: {}", sock.error().message);
        return false;
    } else {
        // The sweeps go on without it; the CLI reads the store and says so.
        spdlog::error("control socket {} not opened, the daemon runs without it: {}",
                      log_value(cfg_.control.socket), log_error(sock.error().message));
    }
    if (!cfg_.metrics_listen.empty()) {
        auto tcp = net::ControlServer::listen_tcp(io_, cfg_.metrics_listen, handler);
        if (tcp) {
            spdlog::info("metrics and status page on http://{}:{}/",
                         log_value(cfg_.metrics_listen.substr(0, cfg_.metrics_listen.rfind(':'))),
                         (*tcp)->port());
            control_.push_back(std::move(*tcp));
        } else {
            spdlog::error("metrics.listen {} not opened: {}", log_value(cfg_.metrics_listen),
                          log_error(tcp.error().message));
        }
    }
    return true;
}

asio::awaitable<HttpResponse> Daemon::answer(HttpRequest req) {
    std::optional<control::PlanRequest> plan;
    HttpResponse res = control::route(req, *this, &plan);
    if (plan) res = co_await answer_plan(std::move(*plan));
    co_return res;
}

asio::awaitable<HttpResponse> Daemon::answer_plan(control::PlanRequest req) {
    const jobs::LoadedJob* lj = registry_.find(req.job);
    if (!lj) {
        auto row = store_.find_job(req.job);
        if (row && *row)
            co_return control::error_response(
                409, "job " + req.job + " is not loaded: its file is deleted or does not validate");
        co_return control::error_response(404, "no job named " + req.job);
    }
    // A copy: the registry may change while the listings are awaited.
    const jobs::Job job = lj->job;
    TenantRt* t = tenant(job.tenant);
    if (!t) co_return control::error_response(409, "tenant " + job.tenant + " is not configured");
    view::PlanInputs in;
    in.tenant = &t->cfg;
    in.job = &job;
    if (auto samples = report_->session_samples(job.name, t->cfg.name))
        in.samples = std::move(*samples);
    auto fleet = co_await t->api->list_machines("");
    if (!fleet) co_return control::error_response(502, "plan: " + fleet.error().message);
    in.fleet = std::move(*fleet);
    if (view::plan_needs_library(t->cfg, job)) {
        in.library = co_await t->api->list_library();
        if (*in.library && t->library_dir) {
            in.library_dir = t->library_dir->scan();
        }
    }
    HttpResponse res;
    const std::string text = view::plan_text(std::move(in), unix_now());
    if (req.text) {
        res.content_type = "text/plain; charset=utf-8";
        res.body = text;
    } else {
        res.body = nlohmann::json{{"job", job.name}, {"plan", text}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    co_return res;
}

}  // namespace lrsched::runtime
