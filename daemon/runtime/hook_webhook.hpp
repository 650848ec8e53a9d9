// The `on_finish` webhook (SPEC §2): the run's summary POSTed as JSON to an
// https:// URL, for chat channels and SOAR playbooks. Expected load: one post
// per finished run, a few a day per job, retried a handful of times at most;
// on the daemon's io_context, never blocking it.
//
// The URL's query string may hold a token (Slack, Teams): nothing here puts
// more of the URL than url_for_display() gives into the outcome.
#pragma once

#include "net/https_client.hpp"
#include "runtime/hook_command.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace lrsched::runtime {

struct WebhookPolicy {
    int max_attempts = 5;
    std::chrono::milliseconds first_backoff{2'000};  // doubled each retry, jittered, capped
    std::chrono::milliseconds max_backoff{60'000};
    std::chrono::milliseconds timeout{10'000};  // each attempt, connect to last byte
};

// The largest answer body read: a receiver's acknowledgement is small, and
// nothing of it is kept.
inline constexpr std::uint64_t kWebhookBodyLimit = std::uint64_t{64} * 1024;

// Posts `json_body` with Content-Type: application/json. Retried after a
// network error, 408, 429 (after its Retry-After when given, capped at
// max_backoff) and 5xx, up to max_attempts in all; any other answer is final
// (2xx: ok). `client` verifies the certificate and host (the daemon gives it
// the tenant's ca_file) and must outlive the call; a pointer, not a
// reference, because coroutines must not take references.
boost::asio::awaitable<HookOutcome> post_webhook(net::HttpsClient* client,
                                                 std::string url,
                                                 std::string json_body,
                                                 WebhookPolicy policy);

}  // namespace lrsched::runtime
