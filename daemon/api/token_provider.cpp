#include "api/token_provider.hpp"

#include "api/mde.hpp"
#include "common/diagnostic.hpp"
#include "common/text.hpp"
#include "net/net.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace lrsched::api {

using Clock = std::chrono::steady_clock;

struct TokenProvider::State {
    State(net::asio::io_context& io, net::HttpsClient& c, TokenSettings s, config::Secret k)
        : client(c), settings(std::move(s)), secret(std::move(k)), done(io) {
        done.expires_at(Clock::time_point::max());
    }
    net::HttpsClient& client;
    TokenSettings settings;
    config::Secret secret;
    std::string token;
    Clock::time_point refresh_at{};  // when the cached token should be replaced
    Clock::time_point expires_at{};
    bool fetching = false;
    std::optional<Error> last_error;
    // Timer as event: waiters park on it while a fetch is in flight; the
    // fetch cancels it when done, which wakes every waiter at once.
    net::asio::steady_timer done;
    std::uint64_t fetches = 0;
};

namespace {

std::string form_encode(std::initializer_list<std::pair<const char*, std::string_view>> fields) {
    std::string out;
    for (const auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        out += k;
        out += '=';
        out += url_encode(v);
    }
    return out;
}

// `expires_in` in seconds, as a number or a numeric string (some answers
// quote it), clamped to [kMinTokenLife, kMaxTokenLife] before any clock
// arithmetic: 1e10 or INT64_MAX seconds would overflow a steady_clock time
// point (undefined behaviour; in practice a refresh time in the past, so
// every call fetched a token). A token said to live less than the floor
// (even a negative time) is still used; the API's 401 replaces it early.
Result<std::chrono::seconds> token_lifetime(const nlohmann::json& j) {
    const auto e = j.find("expires_in");
    if (e == j.end()) return Error{Errc::protocol_error, "no expires_in"};
    double secs = 0;
    if (e->is_number()) {
        secs = e->get<double>();
    } else if (e->is_string()) {
        const std::string& text = e->get_ref<const std::string&>();
        const std::string_view t = trim(text);
        char* end = nullptr;
        const std::string owned(t);
        secs = std::strtod(owned.c_str(), &end);
        if (owned.empty() || end != owned.c_str() + owned.size() || std::isnan(secs))
            return Error{Errc::protocol_error,
                         "an expires_in that is not a number of seconds: " + quote_value(text, 40)};
    } else {
        return Error{Errc::protocol_error, "an expires_in that is not a number of seconds"};
    }
    const double lo = static_cast<double>(kMinTokenLife.count());
    const double hi = static_cast<double>(kMaxTokenLife.count());
    return std::chrono::seconds(static_cast<std::int64_t>(std::clamp(secs, lo, hi)));
}

}  // namespace

Result<TokenResponse> parse_token_response(int status,
                                           std::string_view body,
                                           std::string_view tenant_name) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    const std::string who = "tenant " + std::string(tenant_name) + ": ";
    if (status != 200) {
        std::string why = "HTTP " + std::to_string(status);
        if (j.is_object() && j.contains("error_description") &&
            j["error_description"].is_string()) {
            std::string d = j["error_description"];
            d = d.substr(0, d.find_first_of("\r\n"));  // the AADSTS line; trace ids follow
            why += ": " + quote_value(d, 300);         // the server's text (CWE-117)
        } else if (j.is_object() && j.contains("error") && j["error"].is_string()) {
            why += ": " + quote_value(j["error"].get<std::string>(), 100);
        }
        const Errc code =
            status == 400 || status == 401 ? Errc::permission_denied : Errc::invalid_input;
        return Error{code, who + "token request refused (" + why + ")"};
    }
    // A 200 that cannot be used: say what is wrong with it. Neither the body
    // nor any field is quoted back (the body may hold the token), except an
    // `error` code and a non-numeric expires_in, which hold no secret.
    const std::string answered = who + "token endpoint answered HTTP 200 with ";
    if (j.is_discarded()) return Error{Errc::protocol_error, answered + "a body that is not JSON"};
    if (!j.is_object()) return Error{Errc::protocol_error, answered + "JSON that is not an object"};
    const auto token = j.find("access_token");
    if (token == j.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
        std::string why = answered + "no access_token";
        if (const auto e = j.find("error"); e != j.end() && e->is_string())
            why += " (error " + quote_value(e->get<std::string>(), 60) + ")";
        return Error{Errc::protocol_error, std::move(why)};
    }
    auto life = token_lifetime(j);
    if (!life) return Error{Errc::protocol_error, answered + life.error().message};
    return TokenResponse{token->get<std::string>(), *life};
}

TokenProvider::TokenProvider(boost::asio::io_context& io,
                             net::HttpsClient& client,
                             TokenSettings settings,
                             config::Secret secret)
    : state_(std::make_unique<State>(io, client, std::move(settings), std::move(secret))) {}

TokenProvider::~TokenProvider() = default;

std::uint64_t TokenProvider::fetches() const noexcept {
    return state_->fetches;
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
    req.body = form_encode({{"grant_type", "client_credentials"},
                            {"client_id", s.settings.client_id},
                            {"client_secret", s.secret.reveal()},
                            {"scope", s.settings.scope}});
    req.body_limit = std::uint64_t{64} * 1024;
    req.timeouts = s.settings.timeouts;
    const auto asked_at = Clock::now();
    auto res = co_await s.client.request(std::move(req));
    Result<std::string> out = Error{Errc::invalid_input, ""};
    if (!res) {
        out = Error{res.error().code, "tenant " + s.settings.tenant_name +
                                          ": token request failed: " + res.error().message};
    } else if (auto parsed = parse_token_response(res->status, res->body, s.settings.tenant_name);
               !parsed) {
        out = std::move(parsed).error();
    } else {
        // Refresh when a fifth of the lifetime is left, at most five minutes
        // before the end; timed from the request, the earliest it can have
        // been issued. `life` is within [kMinTokenLife, kMaxTokenLife]: the
        // sums below cannot overflow.
        const auto life = parsed->expires_in;
        const auto margin = std::min<Clock::duration>(life / 5, std::chrono::minutes(5));
        s.token = std::move(parsed->access_token);
        s.expires_at = asked_at + life;
        s.refresh_at = s.expires_at - margin;
        out = s.token;
    }
    if (!out) s.last_error = out.error();
    s.fetching = false;
    s.done.cancel();  // wake every waiter
    s.done.expires_at(Clock::time_point::max());
    co_return out;
}

}  // namespace lrsched::api
