// lrsched-sim's certificate credential (issue 16): client assertions signed
// here with real OpenSSL keys from generate_client_credential(), verified by
// SimApi::token as Entra does, each refusal with its AADSTS code and a
// description that names what is wrong. The flags and the real process:
// sim_assertion_process_test.cpp.
#include "common/diagnostic.hpp"
#include "sim/model/assertion.hpp"
#include "support/client_assertion.hpp"
#include "support/sim_harness.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cmath>
#include <string>
#include <vector>

using lrsched::base64url_encode;
using lrsched::test::body_of;
using lrsched::test::SimHarness;
using lrsched::test::TempDir;
using lrsched::test::assertion::Credential;
using lrsched::test::assertion::jwt;
using lrsched::test::assertion::make_credential;
using lrsched::test::assertion::sign;
using lrsched::test::assertion::upper_hex;
using nlohmann::json;
namespace sim = lrsched::sim;

namespace {

constexpr const char* kJwtBearer =
    "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

// An assertion the harness's SimApi accepts, for the fields each test spoils.
struct Fixture {
    TempDir dir;
    Credential rsa = make_credential(dir, "rsa", sim::ClientKey::rsa2048);
    SimHarness h;
    double wall = std::floor(sim::system_wall_clock());
    std::string client_id = h.api.config().client_id;
    std::string aud = "https://127.0.0.1:4443/" + h.api.config().tenant + "/oauth2/v2.0/token";
    int jtis = 0;

    explicit Fixture(sim::SimConfig config = lrsched::test::quiet_sim_config()) : h(config) {
        register_cert(rsa);
        h.api.set_wall_clock([w = wall] { return w; });
    }
    void register_cert(const Credential& c) {
        auto cert = sim::load_client_cert(c.cert_file);
        REQUIRE(cert.ok());
        h.api.add_client_cert(std::move(cert).value());
    }
    json header(const Credential& c, const std::string& alg = "PS256") const {
        return {{"alg", alg}, {"typ", "JWT"}, {"x5t#S256", base64url_encode(c.sha256)}};
    }
    json claims() {
        return {{"aud", aud},       {"iss", client_id},
                {"sub", client_id}, {"jti", "jti-" + std::to_string(++jtis)},
                {"nbf", wall - 10}, {"exp", wall + 590}};
    }
    std::string form(const std::string& assertion, const std::string& type = kJwtBearer) const {
        std::string f = "grant_type=client_credentials&client_id=" + client_id +
                        "&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default";
        if (!type.empty()) f += "&client_assertion_type=" + type;
        return f + "&client_assertion=" + assertion;
    }
    sim::HttpResponse post(const std::string& form_body, const std::string& host = "") {
        sim::HttpRequest req;
        req.method = "POST";
        req.target = "/" + h.api.config().tenant + "/oauth2/v2.0/token";
        req.body = form_body;
        req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
        if (!host.empty()) req.headers.emplace_back("host", host);
        return h.api.handle(req, 0);
    }
    sim::HttpResponse login(const json& header,
                            const json& claims,
                            const std::string& key_file,
                            const std::string& alg = "PS256") {
        return post(form(jwt(header, claims, alg, key_file)));
    }
};

// The refusal's description (after "AADSTSnnn: "), once status, error and
// code are checked.
std::string refused(const sim::HttpResponse& r,
                    int code,
                    int status = 401,
                    const std::string& error = "invalid_client") {
    CHECK(r.status == status);
    json b = body_of(r);  // not const: a missing key reads as null, not an assert
    CHECK(b["error"] == error);
    CHECK(b["error_codes"] == json::array({code}));
    const std::string desc = b.value("error_description", "");
    const std::string prefix = "AADSTS" + std::to_string(code) + ": ";
    CHECK(desc.rfind(prefix, 0) == 0);
    return desc.substr(std::min(desc.size(), prefix.size()));
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("sim assertion: PS256, RS256 with x5t and ES256 assertions get a token") {
    Fixture f;
    const Credential ec = make_credential(f.dir, "ec", sim::ClientKey::ec_p256);
    f.register_cert(ec);

    const auto ps = f.login(f.header(f.rsa), f.claims(), f.rsa.key_file);
    REQUIRE(ps.status == 200);
    f.h.token = body_of(ps)["access_token"];
    CHECK(f.h.get("/api/machines", 1).status == 200);

    json rs_header = {{"alg", "RS256"}, {"x5t", base64url_encode(f.rsa.sha1)}};
    CHECK(f.login(rs_header, f.claims(), f.rsa.key_file, "RS256").status == 200);
    CHECK(f.login(f.header(ec, "ES256"), f.claims(), ec.key_file, "ES256").status == 200);

    // aud as a one-string array, the v1 path, the tenant in upper case, and
    // the Host the request names.
    json c = f.claims();
    c["aud"] = json::array({f.aud});
    CHECK(f.login(f.header(f.rsa), c, f.rsa.key_file).status == 200);
    std::string upper_tenant = f.h.api.config().tenant;
    for (char& ch : upper_tenant)
        ch = static_cast<char>(std::toupper(ch));
    c = f.claims();
    c["aud"] = "https://127.0.0.1:4443/" + upper_tenant + "/oauth2/token";
    CHECK(f.login(f.header(f.rsa), c, f.rsa.key_file).status == 200);
    c = f.claims();
    c["aud"] = "https://login.example:443/" + f.h.api.config().tenant + "/oauth2/v2.0/token";
    const std::string a = jwt(f.header(f.rsa), c, "PS256", f.rsa.key_file);
    CHECK(f.post(f.form(a), "login.example:443").status == 200);
    // Port 443 is the default: a Host without it names the same aud, and back.
    const std::string tenant = f.h.api.config().tenant;
    for (const auto& [aud_host, host] :
         {std::pair<std::string, std::string>{"login.example:443", "login.example"},
          {"login.example", "login.example:443"}}) {
        c = f.claims();
        c["aud"] = "https://" + aud_host + "/" + tenant + "/oauth2/v2.0/token";
        CHECK(f.post(f.form(jwt(f.header(f.rsa), c, "PS256", f.rsa.key_file)), host).status == 200);
    }
}

TEST_CASE("sim assertion: two registered certificates (rotation) are both accepted") {
    Fixture f;
    const Credential next = make_credential(f.dir, "next", sim::ClientKey::rsa2048);
    f.register_cert(next);
    CHECK(f.login(f.header(f.rsa), f.claims(), f.rsa.key_file).status == 200);
    CHECK(f.login(f.header(next), f.claims(), next.key_file).status == 200);
}

TEST_CASE("sim assertion: client_assertion_type missing or wrong is a 400") {
    Fixture f;
    const std::string a = jwt(f.header(f.rsa), f.claims(), "PS256", f.rsa.key_file);
    CHECK(has(refused(f.post(f.form(a, "")), 900144, 400, "invalid_request"),
              "'client_assertion_type'"));
    const std::string d =
        refused(f.post(f.form(a, "urn%3Abogus%0D%0A")), 50027, 400, "invalid_request");
    CHECK(has(d, "\"urn:bogus\\r\\n\""));  // quoted: no raw CR LF in the message
    // Neither a secret nor an assertion: as before.
    const std::string bare = f.form(a).substr(0, f.form(a).find("&client_assertion_type"));
    CHECK(has(refused(f.post(bare), 7000218), "'client_assertion' or 'client_secret'"));
}

TEST_CASE("sim assertion: an unregistered certificate is AADSTS700027, naming its thumbprint") {
    Fixture f;
    const Credential other = make_credential(f.dir, "other", sim::ClientKey::rsa2048);
    std::string d = refused(f.login(f.header(other), f.claims(), other.key_file), 700027);
    CHECK(has(d, "is not registered on application"));
    CHECK(has(d, "The key was not found."));
    CHECK(has(d, "Thumbprint of key used by client: '" + upper_hex(other.sha256) + "'"));
    CHECK(has(d, "app Id '" + f.client_id + "'"));
    json x5t = {{"alg", "PS256"}, {"x5t", base64url_encode(other.sha1)}};
    d = refused(f.login(x5t, f.claims(), other.key_file), 700027);
    CHECK(has(d, "Thumbprint of key used by client: '" + upper_hex(other.sha1) + "'"));
}

TEST_CASE("sim assertion: a signature by another key, or by the wrong alg, is AADSTS700027") {
    Fixture f;
    const Credential other = make_credential(f.dir, "other", sim::ClientKey::rsa2048);
    const Credential ec = make_credential(f.dir, "ec", sim::ClientKey::ec_p256);
    // The registered certificate's thumbprint, another key's signature.
    std::string d = refused(f.login(f.header(f.rsa), f.claims(), other.key_file), 700027);
    CHECK(has(d, "Client assertion failed signature validation."));
    CHECK(has(d, "Thumbprint of key used by client: '" + upper_hex(f.rsa.sha1) + "'"));
    CHECK(has(d, "Found key 'Start="));
    // Signed RS256 but labelled PS256; labelled ES256 over an RSA key.
    const json c = f.claims();
    const std::string input =
        base64url_encode(f.header(f.rsa).dump()) + "." + base64url_encode(c.dump());
    CHECK(has(refused(f.post(f.form(input + "." +
                                    base64url_encode(sign("RS256", f.rsa.key_file, input)))),
                      700027),
              "signature validation"));
    refused(f.login(f.header(f.rsa, "ES256"), f.claims(), ec.key_file, "ES256"), 700027);
    // ES256 needs P-256: a registered P-384 certificate cannot sign for it.
    const Credential p384 = make_credential(f.dir, "p384", sim::ClientKey::ec_p384);
    f.register_cert(p384);
    refused(f.login(f.header(p384, "ES256"), f.claims(), p384.key_file, "ES256"), 700027);
    // A flipped bit in a good signature.
    std::string good = jwt(f.header(f.rsa), f.claims(), "PS256", f.rsa.key_file);
    good[good.size() - 5] = good[good.size() - 5] == 'A' ? 'B' : 'A';
    refused(f.post(f.form(good)), 700027);
}

TEST_CASE("sim assertion: an expired or not yet valid registered certificate is AADSTS700027") {
    Fixture f;
    const Credential old = make_credential(f.dir, "old", sim::ClientKey::rsa2048, -7200, -60);
    const Credential early = make_credential(f.dir, "early", sim::ClientKey::rsa2048, 3600, 7200);
    f.register_cert(old);
    f.register_cert(early);
    std::string d = refused(f.login(f.header(old), f.claims(), old.key_file), 700027);
    CHECK(has(d,
              "Client assertion contains an invalid signature. [Reason - The key used is "
              "expired."));
    CHECK(has(d, "Thumbprint of key used by client: '" + upper_hex(old.sha1) + "'"));
    // Found key 'Start=MM/DD/YYYY HH:MM:SS, End=...'
    const auto at = d.find("Found key 'Start=");
    REQUIRE(at != std::string::npos);
    const std::string dates = d.substr(at + 17, 45);
    CHECK(dates[2] == '/');
    CHECK(dates[5] == '/');
    CHECK(dates[10] == ' ');
    CHECK(dates.substr(19, 6) == ", End=");
    refused(f.login(f.header(early), f.claims(), early.key_file), 700027);
}

TEST_CASE("sim assertion: iss or sub other than the client id is AADSTS700021") {
    Fixture f;
    for (const char* claim : {"iss", "sub"}) {
        json c = f.claims();
        c[claim] = "22222222-2222-2222-2222-222222222222";
        CHECK(has(refused(f.login(f.header(f.rsa), c, f.rsa.key_file), 700021),
                  "doesn't match 'client_id' parameter"));
    }
}

TEST_CASE("sim assertion: an audience other than this token endpoint is AADSTS50027") {
    Fixture f;
    for (const std::string& aud : std::vector<std::string>{
             "https://login.microsoftonline.com/" + f.h.api.config().tenant + "/oauth2/v2.0/token",
             "https://127.0.0.1:4443/another-tenant/oauth2/v2.0/token",
             "https://127.0.0.1:4443/" + f.h.api.config().tenant + "/oauth2/v2.0/authorize",
             std::string("https://127.0.0.1:4443/\n")}) {
        json c = f.claims();
        c["aud"] = aud;
        const std::string d = refused(f.login(f.header(f.rsa), c, f.rsa.key_file), 50027);
        CHECK(d.rfind("Invalid JWT token. Unexpected audience '" + lrsched::quote_value(aud) + "'.",
                      0) == 0);
    }
}

TEST_CASE("sim assertion: nbf and exp outside 5 minutes of now are AADSTS700024") {
    Fixture f;
    const auto with = [&](double nbf, double exp) {
        json c = f.claims();
        c["nbf"] = nbf;
        c["exp"] = exp;
        return f.login(f.header(f.rsa), c, f.rsa.key_file);
    };
    std::string d = refused(with(f.wall + 301, f.wall + 900), 700024);
    CHECK(has(d, "Current time: " +
                     sim::iso_time(static_cast<sim::Ticks>(f.wall) * sim::kTicksPerSecond)));
    CHECK(has(d, "assertion valid from " +
                     sim::iso_time(static_cast<sim::Ticks>(f.wall + 301) * sim::kTicksPerSecond)));
    CHECK(has(d, "expiry time of assertion " +
                     sim::iso_time(static_cast<sim::Ticks>(f.wall + 900) * sim::kTicksPerSecond)));
    refused(with(f.wall - 900, f.wall - 300), 700024);    // expired beyond the skew
    refused(with(f.wall - 10, f.wall + 86'400), 700024);  // a lifetime over a day
    refused(with(f.wall + 60, f.wall + 30), 700024);      // expires before it is valid
    // Within the skew both ways: accepted.
    CHECK(with(f.wall + 299, f.wall + 600).status == 200);
    CHECK(with(f.wall - 600, f.wall - 299).status == 200);
}

TEST_CASE("sim assertion: a clock an hour off either way is AADSTS700024") {
    for (const double offset : {3600.0, -3600.0}) {
        auto config = lrsched::test::quiet_sim_config();
        config.clock_offset = offset;
        Fixture f(config);
        const std::string d = refused(f.login(f.header(f.rsa), f.claims(), f.rsa.key_file), 700024);
        CHECK(has(d, "Current time: " + sim::iso_time(static_cast<sim::Ticks>(f.wall + offset) *
                                                      sim::kTicksPerSecond)));
    }
}

TEST_CASE("sim assertion: the same assertion twice is AADSTS50013, replay") {
    Fixture f;
    const std::string a = jwt(f.header(f.rsa), f.claims(), "PS256", f.rsa.key_file);
    CHECK(f.post(f.form(a)).status == 200);
    CHECK(has(refused(f.post(f.form(a)), 50013), "jti was already used (replay)"));
    // A refused assertion does not burn its jti.
    json c = f.claims();
    c["aud"] = "https://elsewhere.example/x/oauth2/v2.0/token";
    refused(f.login(f.header(f.rsa), c, f.rsa.key_file), 50027);
    c["aud"] = f.aud;
    CHECK(f.login(f.header(f.rsa), c, f.rsa.key_file).status == 200);
}

TEST_CASE("sim assertion: the replay set is bounded and forgets expired jtis") {
    TempDir dir;
    const Credential rsa = make_credential(dir, "rsa", sim::ClientKey::rsa2048);
    sim::AssertionVerifier v(2);
    v.add(sim::load_client_cert(rsa.cert_file).value());
    const double wall = std::floor(sim::system_wall_clock());
    const sim::AssertionContext ctx{"app", "h", "t", wall};
    const auto assertion = [&](const std::string& jti) {
        const json c = {{"aud", "https://h/t/oauth2/v2.0/token"},
                        {"iss", "app"},
                        {"sub", "app"},
                        {"jti", jti},
                        {"nbf", wall - 10},
                        {"exp", wall + 60}};
        const json h = {{"alg", "PS256"}, {"x5t#S256", base64url_encode(rsa.sha256)}};
        return jwt(h, c, "PS256", rsa.key_file);
    };
    CHECK_FALSE(v.verify(assertion("1"), ctx));
    CHECK_FALSE(v.verify(assertion("2"), ctx));
    const auto full = v.verify(assertion("3"), ctx);
    REQUIRE(full);
    CHECK(full->code == 50013);
    CHECK(v.jtis_held() == 2);
    // Past exp + 5 minutes the first two are forgotten and room is made.
    const sim::AssertionContext later{"app", "h", "t", wall + 361};
    const auto late = v.verify(assertion("3"), later);
    REQUIRE(late);
    CHECK(late->code == 700024);  // too late for this one, but the set was swept
    CHECK(v.jtis_held() == 0);
}

TEST_CASE("sim assertion: hostile assertions are refused cleanly as AADSTS50027") {
    Fixture f;
    const std::string h64 = base64url_encode(f.header(f.rsa).dump());
    const std::string c64 = base64url_encode(f.claims().dump());
    const std::string sig = base64url_encode(std::string(256, 'x'));
    std::string nested(4000, '[');
    nested += std::string(4000, ']');
    const json none_header = {{"alg", "none"}, {"x5t#S256", base64url_encode(f.rsa.sha256)}};
    const std::string none = base64url_encode(none_header.dump()) + "." + c64 + ".";
    json hs_header = f.header(f.rsa, "HS256");
    const std::string hs_input = base64url_encode(hs_header.dump()) + "." + c64;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), f.rsa.public_pem.data(), static_cast<int>(f.rsa.public_pem.size()),
         reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size(), mac, &mac_len);
    const std::string hs256 =
        hs_input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), mac_len));
    json short_x5t = f.header(f.rsa);
    short_x5t["x5t#S256"] = base64url_encode(f.rsa.sha1);

    const std::vector<std::pair<std::string, std::string>> cases = {
        {"20 KiB", h64 + "." + c64 + "." + std::string(20 * 1024, 'A')},
        {"bad base64", h64 + ".c$laims." + sig},
        {"padding", h64 + "=." + c64 + "." + sig},
        {"two parts", h64 + "." + c64},
        {"four parts", h64 + "." + c64 + "." + sig + "." + sig},
        {"empty", ""},
        {"header not JSON", base64url_encode("{alg") + "." + c64 + "." + sig},
        {"claims an array", h64 + "." + base64url_encode("[1,2]") + "." + sig},
        {"nested huge", h64 + "." + base64url_encode("{\"a\":" + nested + "}") + "." + sig},
        {"alg none", none},
        {"HS256 keyed with the public key", hs256},
        {"x5t#S256 of a SHA-1's length", jwt(short_x5t, f.claims(), "PS256", f.rsa.key_file)},
    };
    for (const auto& [what, assertion] : cases) {
        CAPTURE(what);
        refused(f.post(f.form(assertion)), 50027);
    }
    CHECK(has(refused(f.post(f.form(none)), 50027), "algorithm \"none\""));
    for (const auto& [claim, value] :
         std::vector<std::pair<std::string, json>>{{"exp", "9999999999"},
                                                   {"nbf", nullptr},
                                                   {"aud", 42},
                                                   {"aud", json::array({"a", "b"})},
                                                   {"iss", json::object()},
                                                   {"jti", ""},
                                                   {"exp", 1e300}}) {
        CAPTURE(claim);
        json c = f.claims();
        c[claim] = value;
        refused(f.login(f.header(f.rsa), c, f.rsa.key_file), 50027);
    }
    for (const char* claim : {"aud", "iss", "sub", "exp", "nbf", "jti"}) {
        json c = f.claims();
        c.erase(claim);
        CHECK(has(refused(f.login(f.header(f.rsa), c, f.rsa.key_file), 50027),
                  std::string("'") + claim + "' is missing"));
    }
    // Nothing above got a token; a good assertion still does.
    CHECK(f.login(f.header(f.rsa), f.claims(), f.rsa.key_file).status == 200);
}

TEST_CASE("sim assertion: a secret still works beside certificates, and none is none") {
    Fixture f;
    CHECK(f.h.token_call(f.h.form(f.client_id, f.h.api.config().client_secret), 0).status == 200);
    auto config = lrsched::test::quiet_sim_config();
    config.client_secret.clear();  // certificates only
    Fixture certs_only(config);
    refused(certs_only.h.token_call(certs_only.h.form(certs_only.client_id, ""), 0), 7000215);
    CHECK(
        certs_only
            .login(certs_only.header(certs_only.rsa), certs_only.claims(), certs_only.rsa.key_file)
            .status == 200);
}
