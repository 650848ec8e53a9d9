#include "api/token.hpp"

#include "common/diagnostic.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace lrsched::api {
namespace {

// `expires_in` in seconds, as a number or a numeric string (some answers
// quote it), clamped to [kMinTokenLife, kMaxTokenLife] before any clock
// arithmetic: 1e10 or INT64_MAX seconds would overflow a steady_clock time
// point (undefined behaviour; in practice a refresh time in the past, so
// every call fetched a token). A token said to live less than the floor
// (even a negative time) is still used; the API's 401 replaces it early.
Result<std::chrono::seconds> token_lifetime(const nlohmann::json& j) {
    const auto e = j.find("expires_in");
    if (e == j.end()) return Error{Errc::server_error, "no expires_in"};
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
            return Error{Errc::server_error,
                         "an expires_in that is not a number of seconds: " + quote_value(text, 40)};
    } else {
        return Error{Errc::server_error, "an expires_in that is not a number of seconds"};
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
            why +=
                ": " +
                quote_value(d, 600);  // the server's text (CWE-117); certificate refusals run long
        } else if (j.is_object() && j.contains("error") && j["error"].is_string()) {
            why += ": " + quote_value(j["error"].get<std::string>(), 100);
        }
        const Errc code =
            status == 400 || status == 401 ? Errc::permission_denied : Errc::server_error;
        return Error{code, who + "token request refused (" + why + ")"};
    }
    // A 200 that cannot be used: say what is wrong with it. Neither the body
    // nor any field is quoted back (the body may hold the token), except an
    // `error` code and a non-numeric expires_in, which hold no secret.
    const std::string answered = who + "token endpoint answered HTTP 200 with ";
    if (j.is_discarded()) return Error{Errc::server_error, answered + "a body that is not JSON"};
    if (!j.is_object()) return Error{Errc::server_error, answered + "JSON that is not an object"};
    const auto token = j.find("access_token");
    if (token == j.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
        std::string why = answered + "no access_token";
        if (const auto e = j.find("error"); e != j.end() && e->is_string())
            why += " (error " + quote_value(e->get<std::string>(), 60) + ")";
        return Error{Errc::server_error, std::move(why)};
    }
    auto life = token_lifetime(j);
    if (!life) return Error{Errc::server_error, answered + life.error().message};
    return TokenResponse{token->get<std::string>(), *life};
}

}  // namespace lrsched::api
