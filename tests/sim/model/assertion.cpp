// Verifying an Entra client assertion with OpenSSL 3's EVP API: parse the
// JWT (bounded: 16 KiB, two dots, JSON objects), find the registered
// certificate by thumbprint, check its dates, the signature, then the claims,
// then the replay set. The checks run in the order of assertion.hpp's table,
// so each refusal names the first thing wrong, as Entra does.
#include "sim/model/assertion.hpp"

#include "common/base64url.hpp"
#include "common/diagnostic.hpp"
#include "sim/model/sim_util.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace lrsched::sim {
namespace {

struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

constexpr const char* kDocs =
    " Review the documentation at "
    "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
// Claims past this are not NumericDates any client means (year 5138).
constexpr double kMaxNumericDate = 1e11;

Refusal refuse(int code, std::string description) {
    Refusal r;
    r.code = code;
    r.description = std::move(description);
    return r;
}

Refusal malformed(const std::string& reason) {
    return refuse(50027, "JWT token is invalid or is malformed. " + reason);
}

std::string upper_hex(const std::string& raw) {
    std::string h = to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    for (char& c : h)
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    return h;
}

// "12/31/2026 23:59:59", as Entra prints a key's dates.
std::string us_date(std::int64_t unix_seconds) {
    const std::string iso =
        iso_time_seconds(unix_seconds * kTicksPerSecond);  // YYYY-MM-DDThh:mm:ssZ
    return iso.substr(5, 2) + "/" + iso.substr(8, 2) + "/" + iso.substr(0, 4) + " " +
           iso.substr(11, 8);
}

std::string found_key(const ClientCert& c) {
    return "Found key 'Start=" + us_date(c.not_before) + ", End=" + us_date(c.not_after) + "'";
}

std::string iso_of(double unix_seconds) {
    return iso_time(static_cast<Ticks>(std::llround(unix_seconds * kTicksPerSecond)));
}

std::optional<std::int64_t> unix_of(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::optional<nlohmann::json> json_part(std::string_view b64) {
    auto bytes = base64url_decode(b64);
    if (!bytes) return std::nullopt;
    auto j = nlohmann::json::parse(*bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
}

bool is_p256(EVP_PKEY* key) {
    char group[64] = {};
    std::size_t len = 0;
    return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                          &len) == 1 &&
           std::string_view(group, len) == "prime256v1";
}

// JWS raw r||s (RFC 7518 §3.4) as the DER ECDSA-Sig-Value EVP verifies.
std::optional<std::string> ecdsa_der(std::string_view raw) {
    if (raw.size() != 64) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(p, 32, nullptr);
    BIGNUM* s = BN_bin2bn(p + 32, 32, nullptr);
    if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return std::nullopt;
    }
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(sig.get(), &der);
    if (n <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
}

// True when `sig` is alg's signature of `input` by `key`; false for a
// mismatch, an alg that does not fit the key, or any OpenSSL failure.
bool signature_ok(const std::string& alg,
                  EVP_PKEY* key,
                  std::string_view input,
                  std::string_view sig) {
    const bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    std::string der;
    if (alg == "ES256") {
        if (!is_p256(key)) return false;
        auto d = ecdsa_der(sig);
        if (!d) return false;
        der = std::move(*d);
        sig = der;
    } else if (!rsa) {
        return false;
    }
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1) {
        return false;
    }
    // RFC 7518 §3.5: PSS with MGF1 on the same hash, salt as long as the hash.
    if (alg == "PS256" && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
                           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1))
        return false;
    if (alg == "RS256" && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
}

// A host[:port] with the default port 443 spelt out, so that a Host header
// without it (clients leave it out) names the same endpoint as an aud with it.
std::string with_port(std::string_view host) {
    const auto colon = host.rfind(':');
    const bool has_port = colon != std::string_view::npos && host.find(']', colon) == host.npos;
    return has_port ? lower(host) : lower(host) + ":443";
}

// aud: `https://<host>/<tenant>/oauth2/v2.0/token` or the v1 `/oauth2/token`.
bool audience_ok(std::string_view aud, const AssertionContext& ctx) {
    constexpr std::string_view kScheme = "https://";
    if (aud.size() <= kScheme.size() || !iequals(aud.substr(0, kScheme.size()), kScheme)) {
        return false;
    }
    aud.remove_prefix(kScheme.size());
    const auto host_end = aud.find('/');
    if (host_end == std::string_view::npos ||
        with_port(aud.substr(0, host_end)) != with_port(ctx.host)) {
        return false;
    }
    aud.remove_prefix(host_end + 1);
    const auto slash = aud.find('/');
    if (slash == std::string_view::npos || !iequals(aud.substr(0, slash), ctx.tenant)) {
        return false;
    }
    const auto rest = aud.substr(slash);
    return rest == "/oauth2/v2.0/token" || rest == "/oauth2/token";
}

// The claims Entra requires, with their types; the first wrong one named.
std::optional<std::string> claims_problem(const nlohmann::json& claims) {
    for (const char* name : {"aud", "iss", "sub", "exp", "nbf", "jti"})
        if (!claims.contains(name)) return std::string("The claim '") + name + "' is missing.";
    for (const char* name : {"iss", "sub", "jti"})
        if (!claims[name].is_string() || claims[name].get_ref<const std::string&>().empty())
            return std::string("The claim '") + name + "' is not a non-empty string.";
    for (const char* name : {"exp", "nbf"}) {
        const auto& v = claims[name];
        if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 ||
            v.get<double>() > kMaxNumericDate)
            return std::string("The claim '") + name + "' is not a NumericDate.";
    }
    const auto& aud = claims["aud"];
    if (!aud.is_string() && !(aud.is_array() && aud.size() == 1 && aud[0].is_string()))
        return std::string("The claim 'aud' is not a string.");
    if (claims["jti"].get_ref<const std::string&>().size() > 1024)
        return std::string("The claim 'jti' is longer than 1024 characters.");
    return std::nullopt;
}

}  // namespace

double system_wall_clock() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Result<ClientCert> load_client_cert(const std::string& file) {
    const auto fail = [&](const std::string& why) {
        return Error(Errc::invalid_input, "client certificate " + quote_value(file) + ": " + why);
    };
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(file.c_str(), "r"));
    if (!bio) return fail("cannot be read");
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return fail("not a PEM certificate");
    ClientCert c;
    c.file = file;
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int n = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md.data(), &n) != 1) return fail("cannot hash it");
    c.sha256.assign(reinterpret_cast<const char*>(md.data()), n);
    if (X509_digest(cert.get(), EVP_sha1(), md.data(), &n) != 1) return fail("cannot hash it");
    c.sha1.assign(reinterpret_cast<const char*>(md.data()), n);
    const auto from = unix_of(X509_get0_notBefore(cert.get()));
    const auto until = unix_of(X509_get0_notAfter(cert.get()));
    if (!from || !until) return fail("unreadable validity dates");
    c.not_before = *from;
    c.not_after = *until;
    EVP_PKEY* key = X509_get_pubkey(cert.get());  // a reference we own
    if (key == nullptr) return fail("unreadable public key");
    c.key.reset(key, EVP_PKEY_free);
    return c;
}

std::optional<Refusal> AssertionVerifier::verify(std::string_view assertion,
                                                 const AssertionContext& ctx) {
    forget_expired(ctx.wall_now);
    // 2. A JWS in compact form, small, with a header and claims we can read.
    if (assertion.size() > kMaxAssertion)
        return malformed("The assertion is larger than " + std::to_string(kMaxAssertion) +
                         " bytes.");
    const auto dot1 = assertion.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : assertion.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || assertion.find('.', dot2 + 1) != std::string_view::npos)
        return malformed("The assertion is not three base64url parts separated by dots.");
    const auto header = json_part(assertion.substr(0, dot1));
    const auto claims = json_part(assertion.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto signature = base64url_decode(assertion.substr(dot2 + 1));
    if (!header || !claims || !signature)
        return malformed("The header and claims must be base64url JSON objects.");
    const auto alg_it = header->find("alg");
    const bool alg_text = alg_it != header->end() && alg_it->is_string();
    const std::string alg = alg_text ? alg_it->get<std::string>() : "";
    // Never "none", never HS256 (a public key's PEM would then be the secret).
    if (alg != "PS256" && alg != "RS256" && alg != "ES256")
        return malformed("Unsupported signing algorithm " +
                         (alg_text ? quote_value(alg, 40) : "(missing or not a string)") +
                         "; expected PS256, RS256 or ES256.");
    if (auto why = claims_problem(*claims)) return malformed(*why);

    // 3. The certificate, by x5t#S256 (SHA-256) or the older x5t (SHA-1).
    const bool s256 = header->contains("x5t#S256");
    const auto x5t_it = header->find(s256 ? "x5t#S256" : "x5t");
    if (x5t_it == header->end() || !x5t_it->is_string())
        return malformed("The header has no 'x5t#S256' (or 'x5t') thumbprint.");
    const auto thumb = base64url_decode(x5t_it->get_ref<const std::string&>());
    if (!thumb || thumb->size() != (s256 ? 32u : 20u))
        return malformed(std::string("The header's '") + (s256 ? "x5t#S256" : "x5t") +
                         "' is not a base64url " + (s256 ? "SHA-256" : "SHA-1") + " thumbprint.");
    const ClientCert* cert = nullptr;
    for (const auto& c : certs_)
        if ((s256 ? c.sha256 : c.sha1) == *thumb) cert = &c;
    // The thumbprint is hex we computed from a length-checked digest: only
    // [0-9A-F], nothing to escape. Entra prints the SHA-1; for an unknown
    // x5t#S256 we have no SHA-1, so the SHA-256 it names is shown instead.
    const std::string client_thumb = upper_hex(cert != nullptr ? cert->sha1 : *thumb);
    if (cert == nullptr)
        return refuse(700027,
                      "The certificate with identifier used to sign the client assertion is not "
                      "registered on application. [Reason - The key was not found., Thumbprint "
                      "of key used by client: '" +
                          client_thumb +
                          "', Please visit the Azure Portal, Graph Explorer or directly use MS "
                          "Graph to see configured keys for app Id '" +
                          ctx.client_id + "'.]");

    // 4. The registered certificate's own dates. Entra's wording for a key
    // not yet valid is not documented; it answers the same "expired" text.
    if (ctx.wall_now > static_cast<double>(cert->not_after) ||
        ctx.wall_now < static_cast<double>(cert->not_before))
        return refuse(700027,
                      "Client assertion contains an invalid signature. [Reason - The key used is "
                      "expired., Thumbprint of key used by client: '" +
                          client_thumb + "', " + found_key(*cert) + "]");

    // 5. The signature over "header.claims", by the alg the header names.
    if (!signature_ok(alg, cert->key.get(), assertion.substr(0, dot2), *signature))
        return refuse(700027,
                      "Client assertion failed signature validation. [Reason - The provided "
                      "signature value did not match the expected signature value., Thumbprint "
                      "of key used by client: '" +
                          client_thumb + "', " + found_key(*cert) + "]");

    // 6. Who it is from.
    if ((*claims)["iss"] != ctx.client_id || (*claims)["sub"] != ctx.client_id)
        return refuse(700021,
                      "Client assertion application identifier doesn't match 'client_id' "
                      "parameter." +
                          std::string(kDocs));

    // 7. Whom it is for.
    const auto& aud_claim = (*claims)["aud"];
    const std::string aud =
        aud_claim.is_array() ? aud_claim[0].get<std::string>() : aud_claim.get<std::string>();
    if (!audience_ok(aud, ctx))
        return refuse(50027, "Invalid JWT token. Unexpected audience '" + quote_value(aud) + "'.");

    // 8. When: Entra allows 5 minutes of skew each way, and a day at most.
    const double nbf = (*claims)["nbf"].get<double>();
    const double exp = (*claims)["exp"].get<double>();
    if (nbf > ctx.wall_now + kSkew || exp <= ctx.wall_now - kSkew || exp < nbf ||
        exp - nbf > kMaxLifetime)
        return refuse(700024,
                      "Client assertion is not within its valid time range. Current time: " +
                          iso_of(ctx.wall_now) + ", assertion valid from " + iso_of(nbf) +
                          ", expiry time of assertion " + iso_of(exp) + "." + kDocs);

    // 9. Once only.
    const std::string jti = (*claims)["jti"].get<std::string>();
    auto replayed = check_replay(sha256_hex(ctx.client_id + '\n' + jti), exp);
    if (!replayed) accepted_file_ = cert->file;
    return replayed;
}

void AssertionVerifier::forget_expired(double wall_now) {
    while (!by_expiry_.empty() && by_expiry_.begin()->first < wall_now) {
        jti_expiry_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
}

// Microsoft documents no code of its own for a replayed jti; AADSTS50013
// (InvalidAssertion) is the reference page's general "assertion is
// invalid" code, so both a replay and a full replay set answer it.
Refusal replay_refusal() {
    return refuse(50013, "Assertion is invalid: the assertion's jti was already used (replay).");
}

std::optional<Refusal> AssertionVerifier::check_replay(const std::string& jti_hash, double exp) {
    if (jti_expiry_.count(jti_hash) != 0) return replay_refusal();
    if (jti_expiry_.size() >= max_jtis_)
        return refuse(50013,
                      "Assertion is invalid: too many assertions in use; the jti cannot be "
                      "recorded.");
    // Kept until no skew could make the assertion valid again.
    const double forget_at = exp + kSkew;
    jti_expiry_.emplace(jti_hash, forget_at);
    by_expiry_.emplace(forget_at, jti_hash);
    return std::nullopt;
}

}  // namespace lrsched::sim
