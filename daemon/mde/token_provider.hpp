// Access tokens for one tenant (OAuth2 client credentials, mde-api.md §7):
// cached, refreshed before they expire, one refresh in flight at a time.
// Expected load: one token an hour per tenant; up to ~25 callers asking at
// once when a token nears its end or a 401 arrives. Lives on the daemon's io
// thread; no locks.
//
// The credential (a secret, or a certificate whose key signs a JWT client
// assertion per request) and the tokens are never logged and never appear in
// an error.
#pragma once

#include "api/token.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "config/credential.hpp"
#include "config/policy.hpp"
#include "mde/call_counts.hpp"
#include "net/https_client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace lrsched::mde {

// A call's deadlines from the policy table, as the HTTPS client takes them.
inline net::Timeouts call_timeouts(const policy::CallDeadlines& d) {
    using std::chrono::milliseconds;
    return {milliseconds(d.connect), milliseconds(d.handshake), milliseconds(d.io),
            milliseconds(d.total)};
}

struct TokenSettings {
    std::string tenant_name;  // for messages
    std::string login_base;   // https://login.microsoftonline.com
    std::string tenant_id;
    std::string client_id;
    std::string scope;
    net::Timeouts timeouts = call_timeouts(policy::kApiDeadlines);
};

class TokenProvider {
  public:
    // `client` and `io` must outlive the provider.
    TokenProvider(boost::asio::io_context& io,
                  net::HttpsClient& client,
                  TokenSettings settings,
                  config::Credential credential);
    ~TokenProvider();
    TokenProvider(const TokenProvider&) = delete;
    TokenProvider& operator=(const TokenProvider&) = delete;

    // A token to put in `Authorization: Bearer`. Fetches one when there is
    // none, when the cached one is within its refresh margin (a fifth of its
    // lifetime, at most five minutes), or when `rejected` is the cached token
    // (the API answered 401 to it). Callers that arrive while a fetch is in
    // flight wait for it instead of starting another. Errors name the
    // tenant and the token endpoint's AADSTS code and description.
    boost::asio::awaitable<Result<std::string>> token(
        std::optional<std::string> rejected = std::nullopt);

    // Uses `credential` from the next request on (`reload` with new
    // credential files) and drops the cached token, so that the next call
    // proves the new credential at once.
    void replace_credential(config::Credential credential);
    const config::Credential& credential() const noexcept;

    // Token requests made so far (tests, metrics).
    std::uint64_t fetches() const noexcept;
    // The token endpoint's answers (metrics).
    const CallCounts& counts() const noexcept;

    struct State;

  private:
    static Result<std::string> finish(State& s, Result<std::string> out);
    std::unique_ptr<State> state_;
};

}  // namespace lrsched::mde
