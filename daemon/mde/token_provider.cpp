#include "mde/token_provider.hpp"

#include "api/mde.hpp"
#include "api/token.hpp"
#include "common/diagnostic.hpp"
#include "common/text.hpp"
#include "net/net.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

namespace lrsched::mde {

using Clock = std::chrono::steady_clock;

struct TokenProvider::State {
    State(net::asio::io_context& io, net::HttpsClient& c, TokenSettings s, config::Credential k)
        : client(c), settings(std::move(s)), credential(std::move(k)), done(io) {
        done.expires_at(Clock::time_point::max());
    }
    net::HttpsClient& client;
    TokenSettings settings;
    config::Credential credential;
    std::string token;
    Clock::time_point refresh_at{};  // when the cached token should be replaced
    Clock::time_point expires_at{};
    bool fetching = false;
    std::optional<Error> last_error;
    // Timer as event: waiters park on it while a fetch is in flight; the
    // fetch cancels it when done, which wakes every waiter at once.
    net::asio::steady_timer done;
    std::uint64_t fetches = 0;
    CallCounts counts;  // the token endpoint's answers
};

namespace {

std::string form_encode(std::initializer_list<std::pair<const char*, std::string_view>> fields) {
    std::string out;
    for (const auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        out += k;
        out += '=';
        out += api::url_encode(v);
    }
    return out;
}

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

// Ends a fetch: records its error for the waiters and wakes them.
Result<std::string> TokenProvider::finish(State& s, Result<std::string> out) {
    if (!out) s.last_error = out.error();
    s.fetching = false;
    s.done.cancel();  // wake every waiter
    s.done.expires_at(Clock::time_point::max());
    return out;
}

TokenProvider::TokenProvider(boost::asio::io_context& io,
                             net::HttpsClient& client,
                             TokenSettings settings,
                             config::Credential credential)
    : state_(std::make_unique<State>(io, client, std::move(settings), std::move(credential))) {}

TokenProvider::~TokenProvider() = default;

void TokenProvider::replace_credential(config::Credential credential) {
    state_->credential = std::move(credential);
    state_->token.clear();
    state_->refresh_at = {};
    state_->expires_at = {};
}

const config::Credential& TokenProvider::credential() const noexcept {
    return state_->credential;
}

std::uint64_t TokenProvider::fetches() const noexcept {
    return state_->fetches;
}

const CallCounts& TokenProvider::counts() const noexcept {
    return state_->counts;
}

boost::asio::awaitable<Result<std::string>> TokenProvider::token(
    std::optional<std::string> rejected) {
    State& s = *state_;
    for (;;) {
        const bool fresh = !s.token.empty() && Clock::now() < s.refresh_at;
        const bool refused = rejected && *rejected == s.token;
        if (fresh && !refused) co_return s.token;
        if (!s.fetching) break;
        // Someone is fetching: wait for them, then look again (their token
        // is newer than the one that was rejected).
        co_await s.done.async_wait(net::kUseTuple);
        if (s.last_error) co_return *s.last_error;
        if (!s.token.empty() && Clock::now() < s.expires_at) co_return s.token;
    }
    s.fetching = true;
    s.last_error.reset();
    ++s.fetches;
    net::Request req;
    req.method = "POST";
    req.url = s.settings.login_base + "/" + s.settings.tenant_id + "/oauth2/v2.0/token";
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    // A copy: a reload may replace the credential while the request is out.
    std::optional<config::CertificateInfo> cert;
    if (const auto* c = s.credential.certificate()) cert = *c;
    if (cert) {
        // A new assertion per request: its jti is single-use, its life short.
        auto assertion =
            s.credential.client_assertion(req.url, s.settings.client_id, unix_seconds());
        if (!assertion) {
            Error e{assertion.error().code,
                    "tenant " + s.settings.tenant_name + ": " + assertion.error().message};
            co_return finish(s, std::move(e));
        }
        req.body = form_encode(
            {{"grant_type", "client_credentials"},
             {"client_id", s.settings.client_id},
             {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
             {"client_assertion", *assertion},
             {"scope", s.settings.scope}});
    } else {
        req.body = form_encode({{"grant_type", "client_credentials"},
                                {"client_id", s.settings.client_id},
                                {"client_secret", s.credential.secret()->reveal()},
                                {"scope", s.settings.scope}});
    }
    req.body_limit = policy::kTokenLimit;
    req.timeouts = s.settings.timeouts;
    const auto asked_at = Clock::now();
    auto res = co_await s.client.request(std::move(req));
    if (res)
        s.counts.answered(Endpoint::token, res->status);
    else
        s.counts.no_answer(Endpoint::token);
    Result<std::string> out = Error{Errc::invalid_input, ""};
    if (!res) {
        out = Error{res.error().code, "tenant " + s.settings.tenant_name +
                                          ": token request failed: " + res.error().message};
    } else if (auto parsed =
                   api::parse_token_response(res->status, res->body, s.settings.tenant_name);
               !parsed) {
        out = std::move(parsed).error();
        // What the daemon knows that the server's text may not say plainly.
        if (cert) {
            std::string hint;
            if (const auto check = config::certificate_check(*cert, unix_seconds()); check.failed())
                hint = "; the " + check.message;
            else if (out.error().message.find("AADSTS700024") != std::string::npos)
                hint =
                    "; the assertion is signed with this machine's time: check this machine's "
                    "clock (timedatectl)";
            out = Error{out.error().code, out.error().message + hint};
        }
    } else {
        // Refresh ahead of the end (policy::kTokenRefreshShare says how far),
        // timed from the request, the earliest it can have been issued.
        // `life` is within [kMinTokenLife, kMaxTokenLife]: the sums below
        // cannot overflow.
        const auto life = parsed->expires_in;
        const auto margin =
            std::min<Clock::duration>(life / policy::kTokenRefreshShare,
                                      std::chrono::milliseconds(policy::kTokenRefreshMaxMargin));
        s.token = std::move(parsed->access_token);
        s.expires_at = asked_at + life;
        s.refresh_at = s.expires_at - margin;
        out = s.token;
    }
    co_return finish(s, std::move(out));
}

}  // namespace lrsched::mde
