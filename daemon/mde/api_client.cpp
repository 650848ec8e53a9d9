#include "mde/api_client.hpp"

#include "api/long_strings.hpp"
#include "common/log_text.hpp"
#include "config/policy.hpp"
#include "limits/retry_after.hpp"
#include "net/net.hpp"
#include "store/rate_window.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

namespace lrsched::mde {

namespace {

using policy::kListLimit;
using policy::kMaxPages;
using policy::kPage;
using policy::kSmallLimit;
constexpr const char* kLibraryDescription = "kept in the library by lrsched from its library_dir";

std::vector<limits::WindowSpec> read_windows(const config::Tenant& t) {
    std::vector<limits::WindowSpec> out;
    for (const auto& r : t.limits.read_rate)
        out.push_back({r.calls, r.per});
    return out;
}

net::Timeouts api_timeouts() {
    return call_timeouts(policy::kApiDeadlines);
}

}  // namespace

struct ApiClient::Impl {
    Impl(net::asio::io_context& io,
         net::HttpsClient& h,
         TokenProvider& t,
         const config::Tenant& c,
         store::Store& s)
        : http(h),
          tokens(t),
          tenant(c),
          store(s),
          reads(read_windows(c)),
          read_done(io),
          reach(c.poll_interval.count()),
          rng(std::random_device{}()) {
        read_done.expires_at(net::asio::steady_timer::time_point::max());
    }

    // Every call's outcome goes through here: see Reachability.
    void no_answer(const Error& e);
    void answered();

    net::asio::awaitable<void> wait_for_budget();
    // A body is sent as `content_type`; `timeouts` are the API's unless
    // given; a 2xx answer's body goes to `sink` when there is one.
    net::asio::awaitable<Result<net::Response>> read(Endpoint endpoint,
                                                     std::string method,
                                                     std::string target,
                                                     std::string body,
                                                     std::uint64_t limit,
                                                     std::string content_type = "application/json",
                                                     net::Timeouts timeouts = api_timeouts(),
                                                     net::BodySink sink = {});

    net::HttpsClient& http;
    mde::TokenProvider& tokens;
    const config::Tenant& tenant;
    store::Store& store;
    limits::RateLimiter reads;
    // Timer as event: readers waiting for a call in flight to end park here.
    net::asio::steady_timer read_done;
    std::uint64_t made = 0;
    CallCounts counts;
    Reachability reach;
    std::mt19937_64 rng;  // the backoff's jitter
};

void ApiClient::Impl::no_answer(const Error& e) {
    const Millis now = unix_now();
    const bool changed = e.message != reach.last_error();
    const auto f =
        reach.failed(e.message, now, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    if (f.first)
        spdlog::warn(
            "tenant={} the API cannot be reached: {}; trying again with a backoff of up "
            "to {} s (shown by status until it answers)",
            tenant.name, e.message, Reachability::kCap / 1000);
    else
        spdlog::debug("tenant={} still unreachable, next try in {} ms: {}", tenant.name,
                      f.retry_at - now, e.message);
    if (f.first || changed) (void)store.set_tenant_error(tenant.name, e.message, now);
}

void ApiClient::Impl::answered() {
    const auto outage = reach.answered();
    if (!outage) return;
    const Millis now = unix_now();
    spdlog::info("tenant={} the API answers again, after {} failed call(s) over {} ms", tenant.name,
                 outage->failures, now - outage->since);
    (void)store.set_tenant_error(tenant.name, std::nullopt, now);
}

const Reachability& ApiClient::reachability() const noexcept {
    return impl_->reach;
}

void ApiClient::token_failed(const Error& e) {
    if (e.code != make_error_code(Errc::permission_denied)) impl_->no_answer(e);
}

ApiClient::ApiClient(boost::asio::io_context& io,
                     net::HttpsClient& http,
                     mde::TokenProvider& tokens,
                     const config::Tenant& tenant,
                     store::Store& store)
    : impl_(std::make_unique<Impl>(io, http, tokens, tenant, store)) {}

ApiClient::~ApiClient() = default;

std::uint64_t ApiClient::reads() const noexcept {
    return impl_->made;
}

const CallCounts& ApiClient::counts() const noexcept {
    return impl_->counts;
}

const limits::RateLimiter& ApiClient::read_limiter() const noexcept {
    return impl_->reads;
}

Result<void> ApiClient::load(Millis now) {
    return store::restore_rate_window(impl_->store, impl_->tenant.name, store::ApiCallKind::read,
                                      impl_->reads, now);
}

net::asio::awaitable<void> ApiClient::Impl::wait_for_budget() {
    for (;;) {
        const Millis now = unix_now();
        const auto at = reads.next_allowed(now);
        if (at && *at <= now) co_return;
        if (at) {
            net::asio::steady_timer t(co_await net::asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(*at - now));
            co_await t.async_wait(net::kUseTuple);
        } else {
            co_await read_done.async_wait(net::kUseTuple);  // a call in flight ends
        }
    }
}

net::asio::awaitable<Result<net::Response>> ApiClient::Impl::read(Endpoint endpoint,
                                                                  std::string method,
                                                                  std::string target,
                                                                  std::string body,
                                                                  std::uint64_t limit,
                                                                  std::string content_type,
                                                                  net::Timeouts timeouts,
                                                                  net::BodySink sink) {
    std::optional<std::string> rejected;
    for (int attempt = 0;; ++attempt) {
        auto token = co_await tokens.token(rejected);
        if (!token) {
            if (token.error().code != make_error_code(Errc::permission_denied))
                no_answer(token.error());
            co_return std::move(token).error();
        }
        co_await wait_for_budget();
        const Millis start = unix_now();
        auto row = store.begin_api_call(tenant.name, store::ApiCallKind::read, start);
        if (!row) co_return std::move(row).error();
        const auto id = reads.begin(start);
        ++made;
        net::Request req;
        req.method = method;
        req.url = tenant.api_base + target;
        req.headers.emplace_back("Authorization", "Bearer " + *token);
        req.headers.emplace_back("Accept", "application/json");
        if (!body.empty()) req.headers.emplace_back("Content-Type", content_type);
        req.body = body;
        req.body_limit = limit;
        req.timeouts = timeouts;
        req.sink = sink;  // a copy: a 401 or a 429 is tried again
        auto res = co_await http.request(std::move(req));
        const Millis end = call_end_now();
        reads.finish(id, end);
        (void)store.end_api_call(*row, end);
        read_done.cancel();
        read_done.expires_at(net::asio::steady_timer::time_point::max());
        if (res)
            counts.answered(endpoint, res->status);
        else
            counts.no_answer(endpoint);
        if (!res) {
            if (is_unreachable(res.error().code)) no_answer(res.error());
            co_return std::move(res).error();
        }
        answered();
        const std::string what =
            "tenant " + tenant.name + ": " + method + " " + target.substr(0, target.find('?'));
        if (res->status == 401 && !rejected) {
            rejected = *token;  // one refresh, one retry
            continue;
        }
        if (res->status == 401 || res->status == 403) {
            // The library calls need their own permission; say which.
            const bool library = target.rfind("/api/libraryfiles", 0) == 0;
            co_return Error{Errc::permission_denied,
                            what + ": " + api::http_error_text(res->status, res->body) +
                                (library ? " (does the app have Library.Manage?)" : "")};
        }
        if (res->status == 429 && attempt < policy::kReadRetries) {
            const auto until = limits::parse_retry_after(res->header("Retry-After"), end)
                                   .value_or(end + policy::kThrottleWait);
            spdlog::warn("{}: 429, waiting {} ms", what, until - end);
            net::asio::steady_timer t(co_await net::asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(until - end));
            co_await t.async_wait(net::kUseTuple);
            continue;
        }
        co_return std::move(*res);
    }
}

net::asio::awaitable<Result<std::vector<api::Machine>>> ApiClient::list_machines(
    std::string odata_filter) {
    std::vector<api::Machine> all;
    std::size_t bad_ids = 0;
    std::size_t refused = 0;
    const std::string filtered =
        odata_filter.empty() ? "" : "$filter=" + api::url_encode(odata_filter) + "&";
    for (int page = 0; page < kMaxPages; ++page) {
        const std::string target = "/api/machines?" + filtered + "$top=" + std::to_string(kPage) +
                                   "&$skip=" + std::to_string(page * kPage);
        // The page is kept as it arrives without its over-long strings: a
        // fleet of 6 KB names never sits whole in memory (api/mde.hpp).
        std::string kept;
        api::LongStringFilter filter(api::kMaxRawListedString);
        net::BodySink sink = [&kept, &filter](std::string_view chunk) -> Result<void> {
            filter.feed(chunk, kept);
            return ok();
        };
        auto res = co_await impl_->read(Endpoint::machines, "GET", target, "", kListLimit,
                                        "application/json", api_timeouts(), std::move(sink));
        if (!res) co_return std::move(res).error();
        if (res->status == 404) break;  // "no machine matched"
        if (res->status != 200)
            co_return Error{Errc::server_error, "tenant " + impl_->tenant.name +
                                                    ": listing machines: " +
                                                    api::http_error_text(res->status, res->body)};
        filter.finish(kept);
        auto list = api::parse_machine_list(kept);
        if (!list) co_return std::move(list).error();
        kept = std::string();
        bad_ids += list->bad_ids;
        refused += list->refused_values + filter.replaced();
        auto& machines = list->machines;
        const std::size_t got = machines.size() + list->bad_ids;
        // Grown a page at a time, not doubled: at 10^5 machines a doubling
        // would hold 1.5x the fleet's array for a moment.
        all.reserve(all.size() + machines.size());
        all.insert(all.end(), std::make_move_iterator(machines.begin()),
                   std::make_move_iterator(machines.end()));
        if (got < static_cast<std::size_t>(kPage)) break;
    }
    // Once per listing, not once per machine: a server sending 10^5 bad
    // entries must not write 10^5 lines.
    if (bad_ids > 0 || refused > 0)
        spdlog::warn(
            "tenant={} machine listing: {} entr(ies) without a 40-hex id dropped, {} value(s) "
            "over their length cap left out (api/mde.hpp)",
            impl_->tenant.name, bad_ids, refused);
    co_return all;
}

net::asio::awaitable<Result<std::vector<api::MachineAction>>> ApiClient::list_actions(
    std::string filter) {
    std::vector<api::MachineAction> all;
    for (int page = 0; page < kMaxPages; ++page) {
        const std::string target = "/api/machineactions?$filter=" + api::url_encode(filter) +
                                   "&$top=" + std::to_string(kPage) +
                                   "&$skip=" + std::to_string(page * kPage);
        auto res = co_await impl_->read(Endpoint::machineactions, "GET", target, "", kListLimit);
        if (!res) co_return std::move(res).error();
        if (res->status == 404) break;
        if (res->status != 200)
            co_return Error{Errc::server_error, "tenant " + impl_->tenant.name +
                                                    ": listing actions: " +
                                                    api::http_error_text(res->status, res->body)};
        auto actions = api::parse_machine_action_list(res->body);
        if (!actions) co_return std::move(actions).error();
        const std::size_t got = actions->size();
        all.insert(all.end(), std::make_move_iterator(actions->begin()),
                   std::make_move_iterator(actions->end()));
        if (got < static_cast<std::size_t>(kPage)) break;
    }
    co_return all;
}

net::asio::awaitable<Result<std::vector<api::LibraryFile>>> ApiClient::list_library() {
    auto res = co_await impl_->read(Endpoint::library_list, "GET", "/api/libraryfiles", "",
                                    policy::kLibraryListLimit);
    if (!res) co_return std::move(res).error();
    if (res->status != 200)
        co_return Error{Errc::server_error, "tenant " + impl_->tenant.name +
                                                ": listing the live response library: " +
                                                api::http_error_text(res->status, res->body)};
    co_return api::parse_library_list(res->body);
}

net::asio::awaitable<Result<api::UploadResult>> ApiClient::upload_library(std::string name,
                                                                          std::string content) {
    auto form = api::library_upload_body(name, content, kLibraryDescription);
    content = std::string();  // up to 20 MB: keep one copy, not two
    auto res = co_await impl_->read(Endpoint::library_upload, "POST", "/api/libraryfiles",
                                    std::move(form.body), kSmallLimit, std::move(form.content_type),
                                    call_timeouts(policy::kUploadDeadlines));
    if (!res) co_return std::move(res).error();
    co_return api::classify_upload(res->status, res->body);
}

net::asio::awaitable<Result<void>> ApiClient::cancel(std::string action_id, std::string comment) {
    const nlohmann::json body = {{"Comment", comment}};
    auto res = co_await impl_->read(Endpoint::cancel, "POST",
                                    "/api/machineactions/" + api::url_encode(action_id) + "/cancel",
                                    body.dump(), kSmallLimit);
    if (!res) co_return std::move(res).error();
    if (res->status / 100 != 2)
        co_return Error{Errc::server_error, "cancel " + log_value(action_id) + ": " +
                                                api::http_error_text(res->status, res->body)};
    co_return ok();
}

net::asio::awaitable<Result<std::string>> ApiClient::result_link(std::string action_id, int index) {
    auto res = co_await impl_->read(
        Endpoint::getliveresponseresultdownloadlink, "GET",
        "/api/machineactions/" + api::url_encode(action_id) +
            "/GetLiveResponseResultDownloadLink(index=" + std::to_string(index) + ")",
        "", kSmallLimit);
    if (!res) co_return std::move(res).error();
    const std::string what = "result link " + std::to_string(index) + " of " + log_value(action_id);
    if (res->status != 200)
        co_return Error{Errc::server_error,
                        what + ": " + api::http_error_text(res->status, res->body)};
    const auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (!j.is_object() || !j.contains("value") || !j["value"].is_string())
        co_return Error{Errc::server_error, what + ": no URL in the answer"};
    co_return j["value"].get<std::string>();
}

net::asio::awaitable<Result<std::uint64_t>> ApiClient::download(std::string url,
                                                                net::BodySink sink,
                                                                std::uint64_t cap) {
    net::Request req;
    req.url = std::move(url);
    req.body_limit = cap;
    req.sink = std::move(sink);
    req.timeouts = call_timeouts(policy::kDownloadDeadlines);
    auto res = co_await impl_->http.request(std::move(req));
    if (res)
        impl_->counts.answered(Endpoint::download, res->status);
    else
        impl_->counts.no_answer(Endpoint::download);
    if (!res) co_return std::move(res).error();
    if (res->status == 403)
        co_return Error{Errc::permission_denied, "result link expired (HTTP 403)"};
    if (res->status != 200)
        co_return Error{Errc::server_error, "download: HTTP " + std::to_string(res->status)};
    co_return res->body_bytes;
}

net::asio::awaitable<api::SubmitAnswer> ApiClient::submit(std::string machine_id,
                                                          std::string body,
                                                          std::string token) {
    net::Request req;
    req.method = "POST";
    req.url = impl_->tenant.api_base + "/api/machines/" + machine_id + "/runliveresponse";
    req.headers.emplace_back("Authorization", "Bearer " + token);
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Accept", "application/json");
    req.body = std::move(body);
    req.body_limit = kSmallLimit;
    req.timeouts = api_timeouts();
    auto res = co_await impl_->http.request(std::move(req));
    api::SubmitAnswer a;
    if (res)
        impl_->counts.answered(Endpoint::runliveresponse, res->status);
    else
        impl_->counts.no_answer(Endpoint::runliveresponse);
    if (res)
        impl_->answered();
    else if (is_unreachable(res.error().code))
        impl_->no_answer(res.error());
    if (!res) {
        const auto code = res.error().code;
        a.request_sent = code != make_error_code(Errc::connect_failed) &&
                         code != make_error_code(Errc::tls_error);
        a.net_error = std::move(res).error();
        co_return a;
    }
    a.status = res->status;
    a.body = std::move(res->body);
    a.retry_after = std::string(res->header("Retry-After"));
    co_return a;
}

}  // namespace lrsched::mde
