// lrsched-sim's token endpoint (Entra client credentials) and bearer checks.
#include "support/sim_harness.hpp"

using lrsched::test::body_of;
using lrsched::test::SimHarness;

namespace {
void check_entra_error(const lrsched::sim::HttpResponse& r,
                       int status,
                       const std::string& error,
                       int code) {
    CHECK(r.status == status);
    const auto b = body_of(r);
    CHECK(b["error"] == error);
    CHECK(b["error_codes"] == nlohmann::json::array({code}));
    const std::string desc = b["error_description"];
    CHECK(desc.rfind("AADSTS" + std::to_string(code) + ": ", 0) == 0);
    CHECK(desc.find("Trace ID: ") != std::string::npos);
    CHECK(desc.find("Correlation ID: ") != std::string::npos);
    CHECK(desc.find("Timestamp: ") != std::string::npos);
    for (const char* k : {"timestamp", "trace_id", "correlation_id", "error_uri"})
        CHECK(b[k].is_string());
}
}  // namespace

TEST_CASE("sim token: the configured credentials get a bearer token") {
    SimHarness h;
    const auto r = h.token_call(h.form(h.api.config().client_id, h.api.config().client_secret), 0);
    REQUIRE(r.status == 200);
    const auto b = body_of(r);
    CHECK(b["token_type"] == "Bearer");
    CHECK(b["expires_in"] == 3599);
    CHECK(b["ext_expires_in"] == 3599);
    CHECK(b["access_token"].get<std::string>().size() > 40);
    // A second token differs from the first, and both work.
    const auto r2 = h.token_call(h.form(h.api.config().client_id, h.api.config().client_secret), 1);
    CHECK(body_of(r2)["access_token"] != b["access_token"]);
}

TEST_CASE("sim token: wrong client id, secret, tenant, scope and grant are Entra errors") {
    SimHarness h;
    const std::string id = h.api.config().client_id, secret = h.api.config().client_secret;
    check_entra_error(h.token_call(h.form("someone-else", secret), 0), 400, "unauthorized_client",
                      700016);
    check_entra_error(h.token_call(h.form(id, "wrong"), 0), 401, "invalid_client", 7000215);
    check_entra_error(h.token_call(h.form(id, secret), 0, "00000000-dead-beef-0000-000000000000"),
                      400, "invalid_request", 90002);
    check_entra_error(h.token_call(h.form(id, secret, "Machine.LiveResponse"), 0), 400,
                      "invalid_scope", 1002012);
    check_entra_error(
        h.token_call("grant_type=password&client_id=" + id + "&client_secret=" + secret +
                         "&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default",
                     0),
        400, "unsupported_grant_type", 70003);
    check_entra_error(h.token_call(h.form(id, secret, "https%3A%2F%2Fexample.com%2F.default"), 0),
                      400, "invalid_resource", 500011);
}

TEST_CASE("sim token: /api needs a valid, unexpired bearer token") {
    auto c = lrsched::test::quiet_sim_config();
    c.token_lifetime = 100;
    SimHarness h(c);
    const auto none = h.get("/api/machines", 0);
    CHECK(none.status == 401);
    const auto b = body_of(none);
    CHECK(b["error"]["code"] == "Unauthorized");
    CHECK(b["error"]["message"].is_string());
    CHECK(lrsched::is_guid(b["error"]["target"].get<std::string>()));
    CHECK(body_of(h.get("/api/machines", 0))["error"]["target"] != b["error"]["target"]);

    h.login(10);
    CHECK(h.get("/api/machines", 109.9).status == 200);
    CHECK(h.get("/api/machines", 110).status == 401);  // expired at issue + lifetime
    h.token = "forged";
    CHECK(h.get("/api/machines", 50).status == 401);
}

TEST_CASE("sim token: the token endpoint and /_sim are never throttled or faulted") {
    auto c = lrsched::test::quiet_sim_config();
    c.fault_http500 = 1;
    c.read_calls = 1;
    SimHarness h(c);
    for (int i = 0; i < 5; ++i)
        h.login(i);
    CHECK(h.get("/_sim/stats", 6).status == 200);
    CHECK(h.get("/api/libraryfiles", 7).status == 500);
}
