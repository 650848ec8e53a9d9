// Tokens against lrsched-sim's token endpoint over loopback TLS: cached,
// fetched once for many callers, refreshed after a 401, refused clearly.
#include "mde/token_provider.hpp"

#include "net/net.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <vector>

using lrsched::mde::TokenProvider;
using lrsched::mde::TokenSettings;
using lrsched::test::BackgroundProcess;
using lrsched::test::TempDir;
namespace asio = lrsched::net::asio;

namespace {

constexpr const char* kClientId = "11111111-1111-1111-1111-111111111111";

// co_spawn wants a default-constructible result, which Result<T> is not: these
// coroutines store it instead. Pointers by value: no reference parameters to
// coroutines (STYLE.md).
asio::awaitable<void> fetch_into(lrsched::net::HttpsClient* client,
                                 lrsched::net::Request request,
                                 std::optional<lrsched::Result<lrsched::net::Response>>* out) {
    out->emplace(co_await client->request(std::move(request)));
}

asio::awaitable<void> token_into(TokenProvider* p,
                                 std::optional<std::string> rejected,
                                 std::optional<lrsched::Result<std::string>>* out) {
    out->emplace(co_await p->token(std::move(rejected)));
}

void rethrow(const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
}

struct TokenSim {
    TempDir dir;
    BackgroundProcess proc;
    nlohmann::json ready;
    asio::io_context io;
    std::unique_ptr<lrsched::net::HttpsClient> client;

    explicit TokenSim(const std::vector<std::string>& extra = {})
        : proc(args(dir, extra), (dir.path() / "sim.stderr").string()),
          ready(nlohmann::json::parse(proc.ready_line())) {
        auto c = lrsched::net::HttpsClient::create(
            io, {ready["ca_file"].get<std::string>(), "lrsched-test"});
        REQUIRE(c.ok());
        client = std::move(*c);
    }
    static std::vector<std::string> args(const TempDir& d, const std::vector<std::string>& extra) {
        std::vector<std::string> a = {LRSCHED_SIM_BINARY,
                                      "--machines",
                                      "1",
                                      "--port",
                                      "0",
                                      "--client-id",
                                      kClientId,
                                      "--client-secret",
                                      "right-secret",
                                      "--state-dir",
                                      (d.path() / "sim").string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    TokenSettings settings() const {
        TokenSettings s;
        s.tenant_name = "contoso";
        s.login_base = ready["base"];
        s.tenant_id = ready["tenant"];
        s.client_id = kClientId;
        s.scope = "https://api.securitycenter.microsoft.com/.default";
        return s;
    }
    int token_calls() {
        // The simulator's own count of token requests, read with a plain GET.
        lrsched::net::Request r;
        r.url = ready["base"].get<std::string>() + "/_sim/stats";
        r.body_limit = 1 << 20;
        std::optional<lrsched::Result<lrsched::net::Response>> res;
        asio::co_spawn(io, fetch_into(client.get(), r, &res), rethrow);
        io.restart();
        io.run();
        REQUIRE(res.has_value());
        REQUIRE(res->ok());
        const auto stats = nlohmann::json::parse((*res)->body);
        return stats["calls"].contains("token") ? stats["calls"]["token"].value("200", 0) : 0;
    }
};

// Runs `n` concurrent token() calls to completion; returns their results.
std::vector<lrsched::Result<std::string>> ask(asio::io_context& io,
                                              TokenProvider& p,
                                              int n,
                                              std::optional<std::string> rejected = std::nullopt) {
    std::vector<std::optional<lrsched::Result<std::string>>> slots(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(io, token_into(&p, rejected, &slots[static_cast<std::size_t>(i)]), rethrow);
    }
    io.restart();
    io.run();
    std::vector<lrsched::Result<std::string>> out;
    for (auto& s : slots) {
        REQUIRE(s.has_value());
        out.push_back(std::move(*s));
    }
    return out;
}

}  // namespace

TEST_CASE("twenty-five callers on an empty cache cause exactly one token request") {
    TokenSim sim;
    TokenProvider p(sim.io, *sim.client, sim.settings(),
                    lrsched::config::Credential(lrsched::config::Secret("right-secret")));
    const auto results = ask(sim.io, p, 25);
    for (const auto& r : results) {
        REQUIRE(r.ok());
        CHECK(*r == *results[0]);
    }
    CHECK(p.fetches() == 1);
    CHECK(sim.token_calls() == 1);
    // Cached afterwards.
    CHECK(*ask(sim.io, p, 3)[0] == *results[0]);
    CHECK(sim.token_calls() == 1);
}

TEST_CASE("a rejected token is replaced once, however many callers saw the 401") {
    TokenSim sim;
    TokenProvider p(sim.io, *sim.client, sim.settings(),
                    lrsched::config::Credential(lrsched::config::Secret("right-secret")));
    const std::string first = *ask(sim.io, p, 1)[0];
    const auto again = ask(sim.io, p, 10, first);
    for (const auto& r : again) {
        REQUIRE(r.ok());
        CHECK(*r != first);
        CHECK(*r == *again[0]);
    }
    CHECK(p.fetches() == 2);
    CHECK(sim.token_calls() == 2);
}

TEST_CASE("a wrong secret is refused with the AADSTS code, and the secret never appears") {
    TokenSim sim;
    TokenProvider p(sim.io, *sim.client, sim.settings(),
                    lrsched::config::Credential(lrsched::config::Secret("wrong-s3cret-value")));
    const auto results = ask(sim.io, p, 3);
    for (const auto& r : results) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("tenant contoso: token request refused") != std::string::npos);
        CHECK(r.error().message.find("AADSTS7000215") != std::string::npos);
        CHECK(r.error().message.find("wrong-s3cret-value") == std::string::npos);
    }
    CHECK(p.fetches() == 1);
}

TEST_CASE("token responses are read defensively") {
    using lrsched::api::parse_token_response;
    const auto ok = parse_token_response(
        200, R"({"token_type":"Bearer","expires_in":"3599","access_token":"t"})", "c");
    REQUIRE(ok.ok());
    CHECK(ok->expires_in == std::chrono::seconds(3599));
    CHECK_FALSE(parse_token_response(200, R"({"access_token":"t"})", "c").ok());
    CHECK_FALSE(parse_token_response(200, "<html>", "c").ok());
    const auto bad = parse_token_response(
        400,
        R"({"error":"invalid_client","error_description":"AADSTS700016: App not found.\r\nTrace ID: x"})",
        "c");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message ==
          "tenant c: token request refused (HTTP 400: \"AADSTS700016: App not found.\")");
}

TEST_CASE("a token's expires_in is clamped before any clock arithmetic") {
    using lrsched::api::kMaxTokenLife;
    using lrsched::api::kMinTokenLife;
    using lrsched::api::parse_token_response;
    const auto life = [](const std::string& expires_in) {
        const auto r = parse_token_response(
            200, R"({"access_token":"t","expires_in":)" + expires_in + "}", "c");
        REQUIRE_MESSAGE(r.ok(), expires_in << ": " << r.error().message);
        return r->expires_in;
    };
    CHECK(life("3599") == std::chrono::seconds(3599));
    CHECK(life("\"3599\"") == std::chrono::seconds(3599));
    CHECK(life("3599.7") == std::chrono::seconds(3599));
    CHECK(life("\" 3600 \"") == std::chrono::seconds(3600));
    CHECK(life("1e10") == kMaxTokenLife);
    CHECK(life("10000000000") == kMaxTokenLife);
    CHECK(life("9223372036854775807") == kMaxTokenLife);
    CHECK(life("18446744073709551615") == kMaxTokenLife);
    CHECK(life("\"1e10\"") == kMaxTokenLife);
    // Less than the floor (even already past): still used, scheduled as the floor.
    CHECK(life("5") == kMinTokenLife);
    CHECK(life("0") == kMinTokenLife);
    CHECK(life("-1") == kMinTokenLife);
    CHECK(life("-9223372036854775808") == kMinTokenLife);
    CHECK(kMaxTokenLife == std::chrono::hours(24));
}

TEST_CASE("an unusable 200 from the token endpoint says what was wrong, never the token") {
    using lrsched::api::parse_token_response;
    const auto why = [](const std::string& body) {
        const auto r = parse_token_response(200, body, "c");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("SeCrEtToKeN") == std::string::npos);
        return r.error().message;
    };
    CHECK(why("<html>SeCrEtToKeN</html>") ==
          "tenant c: token endpoint answered HTTP 200 with a body that is not JSON");
    CHECK(why(R"(["SeCrEtToKeN"])") ==
          "tenant c: token endpoint answered HTTP 200 with JSON that is not an object");
    CHECK(why(R"({"expires_in":3599})") ==
          "tenant c: token endpoint answered HTTP 200 with no access_token");
    CHECK(why(R"({"access_token":7,"expires_in":3599})") ==
          "tenant c: token endpoint answered HTTP 200 with no access_token");
    CHECK(why(R"({"error":"temporarily_unavailable"})") ==
          "tenant c: token endpoint answered HTTP 200 with no access_token (error "
          "\"temporarily_unavailable\")");
    CHECK(why(R"({"access_token":"SeCrEtToKeN"})") ==
          "tenant c: token endpoint answered HTTP 200 with no expires_in");
    CHECK(why(R"({"access_token":"SeCrEtToKeN","expires_in":"soon"})") ==
          "tenant c: token endpoint answered HTTP 200 with an expires_in that is not a number of "
          "seconds: \"soon\"");
    CHECK(why(R"({"access_token":"SeCrEtToKeN","expires_in":"12abc"})").find("\"12abc\"") !=
          std::string::npos);
    CHECK(why(R"({"access_token":"SeCrEtToKeN","expires_in":null})") ==
          "tenant c: token endpoint answered HTTP 200 with an expires_in that is not a number of "
          "seconds");
    CHECK(why(R"({"access_token":"SeCrEtToKeN","expires_in":{"s":1}})").find("not a number") !=
          std::string::npos);
}

TEST_CASE("a token that says it lives for ever is fetched once and cached, without overflow") {
    for (const char* expires_in : {"9223372036854775807", "1e10", "\"10000000000\""}) {
        CAPTURE(expires_in);
        TokenSim sim({"--token-body", std::string(R"({"token_type":"Bearer","expires_in":)") +
                                          expires_in + R"(,"access_token":"@TOKEN@"})"});
        TokenProvider p(sim.io, *sim.client, sim.settings(),
                        lrsched::config::Credential(lrsched::config::Secret("right-secret")));
        const auto first = ask(sim.io, p, 1);
        REQUIRE(first[0].ok());
        for (int i = 0; i < 5; ++i)
            CHECK(*ask(sim.io, p, 1)[0] == *first[0]);
        CHECK(p.fetches() == 1);
        CHECK(sim.token_calls() == 1);
    }
}

TEST_CASE("a token endpoint answering 200 with a body that is not JSON is reported as such") {
    TokenSim sim({"--token-body", "<html>@TOKEN@</html>"});
    TokenProvider p(sim.io, *sim.client, sim.settings(),
                    lrsched::config::Credential(lrsched::config::Secret("right-secret")));
    const auto r = ask(sim.io, p, 2);
    for (const auto& one : r) {
        REQUIRE_FALSE(one.ok());
        CHECK(one.error().message ==
              "tenant contoso: token endpoint answered HTTP 200 with a body that is not JSON");
    }
    CHECK(p.fetches() == 1);
}
