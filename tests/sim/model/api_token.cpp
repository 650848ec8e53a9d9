// The Entra ID token endpoint (client credentials, v2) and bearer checks.
// Called once an hour per client; tokens live in a map until they expire.
// The client authenticates with its secret or, when the request carries no
// secret, with a certificate's client assertion (assertion.hpp verifies it).
#include "common/diagnostic.hpp"
#include "sim/model/api.hpp"

#include <algorithm>

namespace lrsched::sim {
namespace {

// Resources whose `/.default` scope yields a token the API accepts (APP, §7).
constexpr std::string_view kResources[] = {
    "https://api.securitycenter.microsoft.com", "https://api.security.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice"};

}  // namespace

HttpResponse SimApi::entra_error(
    int status, const std::string& error, int code, const std::string& description, double now) {
    const std::string trace = guids_.next();
    const std::string correlation = guids_.next();
    const std::string when = iso_time_seconds(ticks(now));
    std::string stamp = when;
    stamp[10] = ' ';  // Entra writes "2025-01-01 00:00:00Z"
    const std::string aadsts = "AADSTS" + std::to_string(code);
    ++token_errors_[code];
    // Hostile: before the first CR LF, which a client may cut at, too.
    const std::string hostile = config_.hostile_strings ? hostile_text() : "";
    return json(
        status,
        {{"error", error + hostile},
         {"error_description", aadsts + ": " + description + hostile + " Trace ID: " + trace +
                                   " Correlation ID: " + correlation + " Timestamp: " + stamp},
         {"error_codes", {code}},
         {"timestamp", stamp},
         {"trace_id", trace},
         {"correlation_id", correlation},
         {"error_uri", "https://login.microsoftonline.com/error?code=" + std::to_string(code)}});
}

HttpResponse SimApi::token(const HttpRequest& req, std::string_view tenant, double now) {
    if (!iequals(tenant, config_.tenant))
        return entra_error(400, "invalid_request", 90002,
                           "Tenant '" + quote_value(tenant, 60) +
                               "' not found. Check to make sure you have the correct tenant ID "
                               "and are signing into the correct cloud.",
                           now);
    const auto ct = req.header("content-type");
    if (!iequals(ct.substr(0, ct.find(';')), "application/x-www-form-urlencoded"))
        return entra_error(400, "invalid_request", 900144,
                           "The request body must contain the following parameter: "
                           "'grant_type'.",
                           now);
    const auto form = parse_params(req.body);
    if (!form || req.body.size() > std::size_t{64} * 1024)
        return entra_error(400, "invalid_request", 900144, "The request body is malformed.", now);
    auto field = [&](const char* name) { return find_param(*form, name); };
    for (const char* required : {"grant_type", "client_id", "scope"})
        if (field(required) == nullptr)
            return entra_error(400, "invalid_request", 900144,
                               std::string("The request body must contain the following "
                                           "parameter: '") +
                                   required + "'.",
                               now);
    if (*field("grant_type") != "client_credentials")
        return entra_error(400, "unsupported_grant_type", 70003,
                           "The app requested an unsupported grant type '" +
                               quote_value(*field("grant_type"), 60) + "'.",
                           now);
    if (*field("client_id") != config_.client_id)
        return entra_error(400, "unauthorized_client", 700016,
                           "Application with identifier '" + quote_value(*field("client_id"), 60) +
                               "' was not found in the directory '" + config_.tenant +
                               "'. This can happen if the application has not been installed "
                               "by the administrator of the tenant.",
                           now);
    if (field("client_secret") == nullptr && field("client_assertion") == nullptr)
        return entra_error(401, "invalid_client", 7000218,
                           "The request body must contain the following parameter: "
                           "'client_assertion' or 'client_secret'.",
                           now);
    if (field("client_secret") == nullptr) {
        if (auto refusal = check_assertion(req, *form, tenant))
            return entra_error(refusal->status, refusal->error, refusal->code, refusal->description,
                               now);
    } else if (config_.client_secret.empty() ||  // a sim with certificates only
               *field("client_secret") != config_.client_secret)
        return entra_error(401, "invalid_client", 7000215,
                           "Invalid client secret provided. Ensure the secret being sent in the "
                           "request is the client secret value, not the client secret ID, for "
                           "a secret added to app '" +
                               config_.client_id + "'.",
                           now);
    const std::string& scope = *field("scope");
    constexpr std::string_view kDefault = "/.default";
    if (scope.size() <= kDefault.size() ||
        scope.compare(scope.size() - kDefault.size(), kDefault.size(), kDefault) != 0)
        return entra_error(400, "invalid_scope", 1002012,
                           "The provided value for scope " + quote_value(scope, 80) +
                               " is not valid. Client credential flows must have a scope value "
                               "with /.default suffixed to the resource identifier (application "
                               "ID URI).",
                           now);
    const std::string_view resource(scope.data(), scope.size() - kDefault.size());
    if (std::find(std::begin(kResources), std::end(kResources), resource) == std::end(kResources))
        return entra_error(400, "invalid_resource", 500011,
                           "The resource principal named " + quote_value(resource, 80) +
                               " was not found in the tenant named " + config_.tenant + ".",
                           now);

    std::erase_if(tokens_, [&](const auto& kv) { return kv.second <= now; });
    ++tokens_issued_;
    ++tokens_by_credential_[field("client_secret") != nullptr ? std::string("secret")
                                                              : assertions_.accepted_file()];
    const std::uint64_t h = mix64(config_.seed ^ 0x70c3e5) + tokens_issued_;
    std::string access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.";
    for (std::uint64_t k = 0; k < 6; ++k)
        access += hex64(mix64(h * 6 + k));
    access += "." + hex64(mix64(h ^ 0x51e));
    tokens_[access] = now + config_.token_lifetime;
    const auto lifetime = static_cast<long long>(config_.token_lifetime);
    if (!config_.token_body.empty()) {
        std::string body = config_.token_body;
        for (auto at = body.find("@TOKEN@"); at != std::string::npos;
             at = body.find("@TOKEN@", at + access.size()))
            body.replace(at, 7, access);
        HttpResponse r;
        r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
        r.body = std::move(body);
        return r;
    }
    HttpResponse r = json(200, {{"token_type", "Bearer"},
                                {"expires_in", lifetime},
                                {"ext_expires_in", lifetime},
                                {"access_token", access}});
    r.headers.emplace_back("Cache-Control", "no-store, no-cache");
    return r;
}

// Step 1 of assertion.hpp's table here (the form's own fields), the rest in
// the verifier. Entra's host in `aud` is the one the client connected to.
std::optional<Refusal> SimApi::check_assertion(const HttpRequest& req,
                                               const Params& form,
                                               std::string_view tenant) {
    const std::string* type = find_param(form, "client_assertion_type");
    if (type == nullptr) {
        Refusal r{400, "invalid_request", 900144,
                  "The request body must contain the following parameter: "
                  "'client_assertion_type'."};
        return r;
    }
    if (*type != kJwtBearer) {
        Refusal r{400, "invalid_request", 50027,
                  "JWT token is invalid or is malformed. Invalid client_assertion_type " +
                      quote_value(*type, 80) + "; expected '" + std::string(kJwtBearer) + "'."};
        return r;
    }
    AssertionContext ctx;
    ctx.client_id = config_.client_id;
    ctx.host = std::string(req.header("host"));
    if (ctx.host.empty()) {  // a request built by hand, as in unit tests
        const auto scheme = base_.find("://");
        ctx.host = scheme == std::string::npos ? base_ : base_.substr(scheme + 3);
    }
    ctx.tenant = std::string(tenant);
    ctx.wall_now = wall_clock_() + config_.clock_offset;
    auto refusal = assertions_.verify(*find_param(form, "client_assertion"), ctx);
    if (!refusal && faulted_replays_ < config_.fault_replay) {
        ++faulted_replays_;  // fault_replay: someone used this one first
        ++faults_["replay"];
        return replay_refusal();
    }
    return refusal;
}

bool SimApi::authorized(const HttpRequest& req, double now) const {
    const std::string_view h = req.header("authorization");
    if (h.size() < 8 || !iequals(h.substr(0, 7), "Bearer ")) return false;
    const auto it = tokens_.find(std::string(h.substr(7)));
    return it != tokens_.end() && now < it->second;
}

}  // namespace lrsched::sim
