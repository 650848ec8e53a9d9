// lrsched-sim's certificate credential settings (issue 16): --client-cert
// and --clock-offset as flags and YAML keys, and the real process over TLS
// registering a certificate at start (or refusing to start on a bad one).
#include "common/diagnostic.hpp"
#include "sim/model/assertion.hpp"
#include "sim/model/sim_config.hpp"
#include "support/client_assertion.hpp"
#include "support/https_sync.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

using lrsched::base64url_encode;
using lrsched::test::BackgroundProcess;
using lrsched::test::run_process_within;
using lrsched::test::SyncHttpsClient;
using lrsched::test::TempDir;
using lrsched::test::assertion::Credential;
using lrsched::test::assertion::jwt;
using lrsched::test::assertion::make_credential;
using nlohmann::json;
namespace sim = lrsched::sim;

namespace {

constexpr const char* kJwtBearer =
    "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("sim config: --client-cert repeats, --clock-offset takes a sign, YAML mirrors both") {
    using sim::parse_sim_args;
    const std::vector<std::string> base = {"--client-id", "app"};
    auto args = base;
    for (const char* a :
         {"--client-cert", "old.pem", "--client-cert", "new.pem", "--clock-offset", "-1h"})
        args.emplace_back(a);
    const auto c = parse_sim_args(args);
    REQUIRE(c.ok());
    CHECK(c->client_certs == std::vector<std::string>{"old.pem", "new.pem"});
    CHECK(c->clock_offset == -3600);
    CHECK(c->client_secret.empty());  // a certificate stands in for the secret
    auto plus = base;
    for (const char* a : {"--client-secret", "s", "--clock-offset", "90"})
        plus.emplace_back(a);
    CHECK(parse_sim_args(plus)->clock_offset == 90);
    auto bad = base;
    for (const char* a : {"--client-secret", "s", "--clock-offset", "-x"})
        bad.emplace_back(a);
    const auto refused_offset = parse_sim_args(bad);
    REQUIRE_FALSE(refused_offset.ok());
    CHECK(has(refused_offset.error().message, "--clock-offset"));
    CHECK_FALSE(parse_sim_args(base).ok());  // neither secret nor certificate

    sim::SimConfig y;
    REQUIRE(sim::apply_sim_yaml("client_certs: [a.pem, b.pem]\nclock_offset: -90\n", "sim.yaml", y)
                .ok());
    CHECK(y.client_certs == std::vector<std::string>{"a.pem", "b.pem"});
    CHECK(y.clock_offset == -90);
    CHECK(y.library.size() == 4);  // another list key leaves the library alone
    const std::string help = sim::sim_help();
    CHECK(has(help, "--client-cert "));
    CHECK(has(help, "--clock-offset "));
}

TEST_CASE(
    "lrsched-sim over TLS: --client-cert accepts an assertion once, then refuses its replay") {
    TempDir dir;
    const Credential rsa = make_credential(dir, "app", sim::ClientKey::rsa2048);
    const std::string client_id = "11111111-1111-1111-1111-111111111111";
    // Certificates only: no --client-secret.
    BackgroundProcess proc(
        {LRSCHED_SIM_BINARY, "--machines", "2", "--seed", "1", "--port", "0", "--client-id",
         client_id, "--client-cert", rsa.cert_file, "--state-dir", (dir.path() / "sim").string()},
        (dir.path() / "sim.stderr").string());
    const json ready = json::parse(proc.ready_line());
    SyncHttpsClient client(
        lrsched::net::ClientOptions{ready["ca_file"].get<std::string>(), "lrsched-test"});
    const std::string token_url = ready["base"].get<std::string>() + "/" +
                                  ready["tenant"].get<std::string>() + "/oauth2/v2.0/token";
    const double wall = sim::system_wall_clock();
    const json claims = {{"aud", token_url}, {"iss", client_id}, {"sub", client_id},
                         {"jti", "once"},    {"nbf", wall - 60}, {"exp", wall + 540}};
    const json header = {{"alg", "PS256"}, {"x5t#S256", base64url_encode(rsa.sha256)}};
    const std::string body = "grant_type=client_credentials&client_id=" + client_id +
                             "&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default"
                             "&client_assertion_type=" +
                             kJwtBearer +
                             "&client_assertion=" + jwt(header, claims, "PS256", rsa.key_file);
    const auto post = [&] {
        lrsched::net::Request r;
        r.method = "POST";
        r.url = token_url;
        r.body = body;
        r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        r.body_limit = 1u << 20;
        auto res = client.call(std::move(r));
        REQUIRE(res.ok());
        return std::move(res).value();
    };
    const auto first = post();
    REQUIRE(first.status == 200);
    CHECK(json::parse(first.body)["access_token"].is_string());
    const auto again = post();
    CHECK(again.status == 401);
    const json b = json::parse(again.body);
    CHECK(b["error_codes"] == json::array({50013}));
    CHECK(has(b["error_description"].get<std::string>(), "replay"));
}

TEST_CASE("lrsched-sim: an unreadable --client-cert stops it at start, naming the file") {
    TempDir dir;
    const auto bogus = dir.write("not-a-cert.pem", "hello\n").string();
    const auto r = run_process_within(
        {LRSCHED_SIM_BINARY, "--machines", "1", "--port", "0", "--client-id", "app",
         "--client-cert", bogus, "--state-dir", (dir.path() / "sim").string()},
        std::chrono::seconds(20));
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, lrsched::quote_value(bogus)));
    CHECK(has(r.err, "not a PEM certificate"));
}
