// post_webhook: one POST, retried with a doubling, jittered backoff. The
// HTTPS client does the verification and the deadlines; this file decides
// what is worth another attempt and what the outcome says.
#include "runtime/hook_webhook.hpp"

#include "common/clock.hpp"
#include "common/diagnostic.hpp"
#include "common/log_text.hpp"
#include "common/url.hpp"
#include "limits/retry_after.hpp"
#include "net/coro.hpp"

#include <algorithm>
#include <random>

namespace lrsched::runtime {
namespace {

namespace asio = boost::asio;

// Worth another attempt: the receiver may be restarting or overloaded. A 4xx
// other than these says the request itself is wrong; repeating it is noise.
bool retryable(int status) {
    return status == 408 || status == 429 || status >= 500;
}

std::string attempts_text(int n) {
    return std::to_string(n) + (n == 1 ? " attempt" : " attempts");
}

}  // namespace

asio::awaitable<HookOutcome> post_webhook(net::HttpsClient* client,
                                          std::string url,
                                          std::string json_body,
                                          WebhookPolicy policy) {
    HookOutcome out;
    out.kind = "webhook";
    const std::string shown = url_for_display(url);
    if (auto parsed = parse_https_url(url); !parsed) {
        out.detail = "cannot post: " + parsed.error().message;  // quotes `shown` only
        co_return out;
    }
    const int max_attempts = std::max(1, policy.max_attempts);
    std::mt19937_64 rng(std::random_device{}());
    auto backoff = std::max(policy.first_backoff, std::chrono::milliseconds(0));
    std::string last;  // the last failure, for the outcome
    for (int attempt = 1;; ++attempt) {
        out.attempts = attempt;
        net::Request req;
        req.method = "POST";
        req.url = url;
        req.headers = {{"Content-Type", "application/json"}};
        req.body = json_body;
        req.body_limit = kWebhookBodyLimit;
        req.timeouts.connect = req.timeouts.handshake = req.timeouts.io = req.timeouts.total =
            policy.timeout;
        auto r = co_await client->request(std::move(req));
        std::optional<std::chrono::milliseconds> asked;
        if (r) {
            const int status = r->status;
            if (status >= 200 && status < 300) {
                out.ok = true;
                out.detail = "HTTP " + std::to_string(status) + " after " + attempts_text(attempt);
                co_return out;
            }
            last = "HTTP " + std::to_string(status);
            if (!retryable(status)) {
                out.detail = last + ", " + attempts_text(attempt) + ", not retried";
                out.output = quote_value(r->body.substr(0, kHookOutputMax), kHookOutputMax);
                co_return out;
            }
            if (const auto ra = r->header("Retry-After"); !ra.empty()) {
                const Millis now = unix_now();
                if (auto at = limits::parse_retry_after(ra, now))
                    asked = std::chrono::milliseconds(std::max<Millis>(0, *at - now));
            }
        } else {
            if (r.error().code == make_error_code(Errc::invalid_input)) {
                out.detail = "cannot post: " + r.error().message;
                co_return out;
            }
            // The client's messages name scheme, host and path, never the query.
            last = r.error().message;
        }
        if (attempt >= max_attempts) {
            out.detail = last + ", " + attempts_text(attempt) + ", gave up";
            co_return out;
        }
        // Equal jitter: half the backoff fixed, half random, so that hooks
        // of runs ending together do not retry in step.
        std::chrono::milliseconds wait = backoff / 2;
        if (backoff.count() > 0)
            wait += std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(
                0, backoff.count() - backoff.count() / 2)(rng));
        if (asked) wait = *asked;
        wait = std::min(wait, policy.max_backoff);
        backoff = std::min(backoff * 2, policy.max_backoff);
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        auto [ec] = co_await timer.async_wait(net::kUseTuple);
        if (ec) {
            out.detail = last + ", " + attempts_text(attempt) + ", cancelled";
            co_return out;
        }
    }
}

}  // namespace lrsched::runtime
