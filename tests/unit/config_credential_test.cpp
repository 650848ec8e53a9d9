// Certificate credentials (issue 16): the key and certificate as read from
// files an operator made, every refusal with a message naming the file, the
// JWT client assertion checked with OpenSSL against the certificate's public
// key (not with the code that made it), and the configuration's either-or.
#include "common/base64url.hpp"
#include "config/config.hpp"
#include "config/credential.hpp"
#include "sim/server/cert.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using lrsched::Diagnostics;
using lrsched::Errc;
using lrsched::config::certificate_check;
using lrsched::config::CertificateCheck;
using lrsched::config::read_credential;
using lrsched::config::Tenant;
using lrsched::sim::ClientKey;
using lrsched::sim::generate_client_credential;
using lrsched::test::TempDir;

namespace {

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Tenant tenant_with(const lrsched::sim::ClientCredentialFiles& f) {
    Tenant t;
    t.name = "contoso";
    t.client_id = "11111111-1111-1111-1111-111111111111";
    t.client_certificate_file = f.cert_file;
    t.client_key_file = f.key_file;
    return t;
}

// The certificate's public key, read by OpenSSL from the PEM file.
EVP_PKEY* public_key_of(const std::string& cert_file) {
    FILE* f = std::fopen(cert_file.c_str(), "r");
    REQUIRE(f != nullptr);
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(cert != nullptr);
    EVP_PKEY* key = X509_get_pubkey(cert);
    X509_free(cert);
    return key;
}

// Verifies a compact JWS as a relying party would: PS256 or ES256 over
// "header.claims" with the certificate's key.
bool verifies(const std::string& jwt, const std::string& cert_file) {
    const auto dot2 = jwt.rfind('.');
    const std::string input = jwt.substr(0, dot2);
    auto sig = lrsched::base64url_decode(jwt.substr(dot2 + 1));
    if (!sig) return false;
    const auto header =
        nlohmann::json::parse(*lrsched::base64url_decode(jwt.substr(0, jwt.find('.'))));
    EVP_PKEY* key = public_key_of(cert_file);
    std::string der = *sig;
    if (header["alg"] == "ES256") {
        if (sig->size() != 64) return false;
        ECDSA_SIG* es = ECDSA_SIG_new();
        const auto* raw = reinterpret_cast<const unsigned char*>(sig->data());
        ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
        unsigned char* out = nullptr;
        const int n = i2d_ECDSA_SIG(es, &out);
        der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
        OPENSSL_free(out);
        ECDSA_SIG_free(es);
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, key) == 1;
    if (ok && header["alg"] == "PS256")
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1;
    ok = ok &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

nlohmann::json part(const std::string& jwt, int index) {
    std::size_t from = 0;
    for (int i = 0; i < index; ++i)
        from = jwt.find('.', from) + 1;
    const auto to = jwt.find('.', from);
    return nlohmann::json::parse(*lrsched::base64url_decode(jwt.substr(from, to - from)));
}

}  // namespace

TEST_CASE("certificate credential: RSA and EC keys sign assertions their certificate verifies") {
    TempDir dir;
    const std::string aud =
        "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token";
    for (const auto kind : {ClientKey::rsa2048, ClientKey::ec_p256}) {
        const bool rsa = kind == ClientKey::rsa2048;
        CAPTURE(rsa);
        auto files = generate_client_credential(dir.path(), rsa ? "rsa" : "ec", kind);
        REQUIRE(files.ok());
        auto cred = read_credential(tenant_with(*files), "");
        REQUIRE_MESSAGE(cred.ok(), cred.error().message);
        REQUIRE(cred->certificate() != nullptr);
        CHECK(cred->secret() == nullptr);
        const auto& info = *cred->certificate();
        CHECK(info.algorithm == (rsa ? "PS256" : "ES256"));
        CHECK(info.key_kind == (rsa ? "RSA 2048" : "EC P-256"));
        CHECK(info.thumbprint.size() == 40);  // SHA-1, as the portal shows it
        CHECK(info.x5t_s256.size() == 43);    // SHA-256, base64url unpadded
        CHECK(info.subject.find("lrsched test client") != std::string::npos);
        CHECK(info.not_after - info.not_before == 3600 + 365L * 24 * 3600);

        const std::int64_t now = now_s();
        auto jwt = cred->client_assertion(aud, "11111111-1111-1111-1111-111111111111", now);
        REQUIRE(jwt.ok());
        CHECK(verifies(*jwt, files->cert_file));
        const auto header = part(*jwt, 0);
        const auto claims = part(*jwt, 1);
        CHECK(header["typ"] == "JWT");
        CHECK(header["x5t#S256"] == info.x5t_s256);
        CHECK(claims["aud"] == aud);
        CHECK(claims["iss"] == "11111111-1111-1111-1111-111111111111");
        CHECK(claims["sub"] == claims["iss"]);
        CHECK(claims["nbf"] == now);
        CHECK(claims["exp"].get<std::int64_t>() - now == lrsched::config::kAssertionLife);
        // Each assertion is new: another jti, another signature.
        auto again = cred->client_assertion(aud, "11111111-1111-1111-1111-111111111111", now);
        REQUIRE(again.ok());
        CHECK(part(*again, 1)["jti"] != claims["jti"]);
        CHECK(claims["jti"].get<std::string>().size() == 36);
        // A changed byte in the claims breaks the signature.
        std::string forged = *jwt;
        forged[forged.find('.') + 5] ^= 1;
        CHECK_FALSE(verifies(forged, files->cert_file));
    }
}

TEST_CASE("certificate credential: every bad key or certificate refused, naming the file") {
    TempDir dir;
    auto good = generate_client_credential(dir.path(), "good", ClientKey::rsa2048);
    auto other = generate_client_credential(dir.path(), "other", ClientKey::ec_p256);
    REQUIRE(good.ok());
    REQUIRE(other.ok());
    Tenant t = tenant_with(*good);
    const std::string key_text = slurp(good->key_file);
    const auto refused = [&](const Tenant& tenant, const std::string& expect) {
        auto c = read_credential(tenant, "");
        REQUIRE_FALSE(c.ok());
        CAPTURE(c.error().message);
        CHECK(c.error().message.find(expect) != std::string::npos);
        CHECK(c.error().message.find("tenant contoso") == 0);
        // No line of the key in any message.
        CHECK(c.error().message.find(key_text.substr(40, 40)) == std::string::npos);
        return c.error();
    };
    SUBCASE("a key that is not the certificate's") {
        t.client_key_file = other->key_file;
        refused(t, "does not match the certificate " + good->cert_file);
    }
    SUBCASE("a key readable by others") {
        ::chmod(good->key_file.c_str(), 0644);
        CHECK(refused(t, "chmod 600").code == make_error_code(Errc::permission_denied));
    }
    SUBCASE("a key behind a link") {
        const auto link = dir.path() / "link.key";
        std::filesystem::create_symlink(good->key_file, link);
        t.client_key_file = link.string();
        refused(t, "link.key");
    }
    SUBCASE("a key that is a FIFO (no hang)") {
        const auto fifo = dir.path() / "fifo.key";
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        t.client_key_file = fifo.string();
        refused(t, "fifo.key");
    }
    SUBCASE("a certificate that is a FIFO (no hang)") {
        const auto fifo = dir.path() / "fifo.crt";
        REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
        t.client_certificate_file = fifo.string();
        refused(t, "fifo.crt");
    }
    SUBCASE("RSA under 2048 bits and EC off P-256") {
        auto small = generate_client_credential(dir.path(), "small", ClientKey::rsa1024);
        auto p384 = generate_client_credential(dir.path(), "p384", ClientKey::ec_p384);
        REQUIRE(small.ok());
        REQUIRE(p384.ok());
        refused(tenant_with(*small), "RSA key of 1024 bits; 2048 bits or more");
        refused(tenant_with(*p384), "only P-256");
    }
    SUBCASE("a key encrypted with a passphrase: refused at once, no prompt") {
        FILE* in = std::fopen(good->key_file.c_str(), "r");
        EVP_PKEY* key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
        std::fclose(in);
        REQUIRE(key != nullptr);
        const auto enc = dir.path() / "enc.key";
        FILE* out = std::fopen(enc.c_str(), "w");
        char pass[] = "passphrase";
        REQUIRE(PEM_write_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), pass, sizeof pass - 1,
                                          nullptr, nullptr) == 1);
        std::fclose(out);
        EVP_PKEY_free(key);
        ::chmod(enc.c_str(), 0600);
        t.client_key_file = enc.string();
        refused(t, "encrypted with a passphrase");
    }
    SUBCASE("files that hold no PEM, or the key where the certificate goes") {
        t.client_certificate_file = dir.write("junk.crt", "\xff\xfe not a certificate\n").string();
        refused(t, "holds no PEM certificate");
        t = tenant_with(*good);
        const auto junk_key = dir.write("junk.key", std::string(70 * 1024, 'A'));
        ::chmod(junk_key.c_str(), 0600);
        t.client_key_file = junk_key.string();
        refused(t, "junk.key");  // over the 64 KiB cap
        t.client_certificate_file = good->key_file;
        t.client_key_file = good->key_file;
        refused(t, "holds no PEM certificate");
    }
    SUBCASE("no key anywhere") {
        t.client_key_file.clear();
        refused(t,
                "no private key for the certificate (set client_key_file, or provide "
                "$CREDENTIALS_DIRECTORY/contoso.key)");
    }
}

TEST_CASE("certificate credential: $CREDENTIALS_DIRECTORY/<tenant>.key wins over client_key_file") {
    TempDir dir;
    auto good = generate_client_credential(dir.path(), "good", ClientKey::ec_p256);
    auto other = generate_client_credential(dir.path(), "other", ClientKey::ec_p256);
    REQUIRE(good.ok());
    REQUIRE(other.ok());
    Tenant t = tenant_with(*good);
    t.client_key_file = other->key_file;  // wrong: would be refused if used
    const auto creds = dir.path() / "creds";
    std::filesystem::create_directories(creds);
    std::filesystem::copy_file(good->key_file, creds / "contoso.key");
    ::chmod((creds / "contoso.key").c_str(), 0400);
    auto c = read_credential(t, creds.string());
    REQUIRE_MESSAGE(c.ok(), c.error().message);
    CHECK(c->certificate()->key_file == (creds / "contoso.key").string());
    t.client_key_file.clear();
    CHECK(read_credential(t, creds.string()).ok());
}

TEST_CASE("certificate credential: validity, the 30-day warning, expiry and a future start") {
    TempDir dir;
    const std::int64_t day = 24 * 3600;
    auto expired =
        generate_client_credential(dir.path(), "expired", ClientKey::ec_p256, -400 * day, -2 * day);
    auto soon =
        generate_client_credential(dir.path(), "soon", ClientKey::ec_p256, -day, 10 * day + 3600);
    auto later =
        generate_client_credential(dir.path(), "later", ClientKey::ec_p256, 2 * day, 300 * day);
    auto fine = generate_client_credential(dir.path(), "fine", ClientKey::ec_p256);
    REQUIRE(expired.ok());
    REQUIRE(soon.ok());
    REQUIRE(later.ok());
    REQUIRE(fine.ok());
    const std::int64_t now = now_s();
    const auto check = [&](const lrsched::sim::ClientCredentialFiles& f) {
        auto c = read_credential(tenant_with(f), "");  // an expired one is still read
        REQUIRE_MESSAGE(c.ok(), c.error().message);
        return certificate_check(*c->certificate(), now);
    };
    using State = CertificateCheck::State;
    const auto e = check(*expired);
    CHECK(e.state == State::expired);
    CHECK(e.failed());
    CHECK(e.message.find("expired on ") != std::string::npos);
    CHECK(e.message.find(expired->cert_file) != std::string::npos);
    const auto s = check(*soon);
    CHECK(s.state == State::expiring);
    CHECK_FALSE(s.failed());
    CHECK(s.message.find("(in 10 days)") != std::string::npos);
    const auto l = check(*later);
    CHECK(l.state == State::not_yet_valid);
    CHECK(l.message.find("is not valid before ") != std::string::npos);
    const auto f = check(*fine);
    CHECK(f.state == State::valid);
    CHECK(f.message.empty());
}

TEST_CASE("certificate credential: a tenant has a secret or a certificate, not both") {
    const std::string head =
        "tenants:\n"
        "  - name: contoso\n"
        "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
        "    client_id: 11111111-1111-1111-1111-111111111111\n";
    Diagnostics both;
    CHECK_FALSE(
        lrsched::config::parse_config(head + "    client_secret_file: /etc/lrsched/s\n"
                                             "    client_certificate_file: /etc/lrsched/c.crt\n",
                                      "/etc/lrsched/lrsched.yaml", both));
    CHECK(both.to_string().find("/etc/lrsched/lrsched.yaml:6:") != std::string::npos);
    CHECK(both.to_string().find("a client secret or a certificate, not both") != std::string::npos);
    Diagnostics key_only;
    CHECK_FALSE(lrsched::config::parse_config(head + "    client_key_file: /etc/lrsched/c.key\n",
                                              "/etc/lrsched/lrsched.yaml", key_only));
    CHECK(key_only.to_string().find(":5:") != std::string::npos);
    CHECK(key_only.to_string().find("needs its certificate") != std::string::npos);
    Diagnostics fine;
    auto c = lrsched::config::parse_config(head +
                                               "    client_certificate_file: /etc/lrsched/c.crt\n"
                                               "    client_key_file: /etc/lrsched/c.key\n",
                                           "/etc/lrsched/lrsched.yaml", fine);
    REQUIRE_MESSAGE(c.has_value(), fine.to_string());
    CHECK(c->tenants[0].client_certificate_file == "/etc/lrsched/c.crt");
    CHECK(c->tenants[0].client_key_file == "/etc/lrsched/c.key");
}
