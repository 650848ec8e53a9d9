#include "config/credential.hpp"

#include "common/base64url.hpp"
#include "common/diagnostic.hpp"
#include "common/safe_file.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>
#include <ctime>

namespace lrsched::config {

class SigningKey {
  public:
    explicit SigningKey(EVP_PKEY* k) : key(k) {}
    ~SigningKey() { EVP_PKEY_free(key); }
    SigningKey(const SigningKey&) = delete;
    SigningKey& operator=(const SigningKey&) = delete;
    EVP_PKEY* key;
};

struct Credential::Parts {
    std::optional<Secret> secret;
    std::optional<CertificateInfo> info;
    std::shared_ptr<const SigningKey> key;
};

namespace {

constexpr std::size_t kMaxPemBytes = std::size_t{64} * 1024;

struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;
using Bio = std::unique_ptr<BIO, BioFree>;

// OpenSSL's reason for the last failure ("no start line"), then its queue
// cleared. It names what OpenSSL expected, never the bytes it read.
std::string ossl_reason() {
    const unsigned long e = ERR_peek_last_error();
    const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    return reason != nullptr ? reason : "unknown OpenSSL error";
}

// A passphrase callback that refuses: an encrypted key fails at once
// instead of OpenSSL asking on a terminal the daemon does not have.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
    *static_cast<bool*>(asked) = true;
    return -1;
}

std::int64_t asn1_unix(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::string day_of(std::int64_t unix_s) {
    return utc_iso8601(unix_s * 1000);
}

std::string hex_upper(const unsigned char* p, unsigned n) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 15];
    }
    return out;
}

std::string subject_of(X509* cert) {
    Bio mem(BIO_new(BIO_s_mem()));
    if (!mem) return "";
    X509_NAME_print_ex(mem.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long len = BIO_get_mem_data(mem.get(), &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(std::min(len, 300L))) : "";
}

// The key's kind if Entra can use it with a JWS algorithm we sign with,
// else why not.
Result<std::pair<std::string, std::string>> key_kind(EVP_PKEY* key) {
    const int id = EVP_PKEY_get_base_id(key);
    const int bits = EVP_PKEY_get_bits(key);
    if (id == EVP_PKEY_RSA) {
        if (bits < 2048)
            return Error{Errc::invalid_input, "is an RSA key of " + std::to_string(bits) +
                                                  " bits; 2048 bits or more are needed"};
        return std::pair<std::string, std::string>{"PS256", "RSA " + std::to_string(bits)};
    }
    if (id == EVP_PKEY_EC) {
        char group[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1 ||
            std::string_view(group) != "prime256v1")
            return Error{Errc::invalid_input, std::string("is an EC key on curve ") +
                                                  (group[0] ? group : "unknown") +
                                                  "; only P-256 (ES256) is supported"};
        return std::pair<std::string, std::string>{"ES256", "EC P-256"};
    }
    return Error{Errc::invalid_input, "is neither an RSA nor an EC P-256 key"};
}

Result<Cert> read_certificate(const std::string& path, const std::string& what) {
    auto text = read_regular_file(path, kMaxPemBytes, Links::follow);
    if (!text) return Error{text.error().code, what + text.error().message};
    Bio mem(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    if (!mem) return Error{Errc::internal_error, what + "out of memory"};
    Cert cert(PEM_read_bio_X509(mem.get(), nullptr, nullptr, nullptr));
    if (!cert)
        return Error{
            Errc::invalid_input,
            what + "holds no PEM certificate (-----BEGIN CERTIFICATE-----): " + ossl_reason()};
    return cert;
}

Result<std::shared_ptr<const SigningKey>> read_key(const std::string& path,
                                                   const std::string& what) {
    auto text = read_private_file(path, what, kMaxPemBytes);
    if (!text) return std::move(text).error();
    Bio mem(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    bool asked = false;
    EVP_PKEY* key =
        mem ? PEM_read_bio_PrivateKey(mem.get(), nullptr, no_passphrase, &asked) : nullptr;
    OPENSSL_cleanse(text->data(), text->size());
    if (key == nullptr) {
        if (asked) {
            ERR_clear_error();
            return Error{Errc::invalid_input,
                         what +
                             "is encrypted with a passphrase, which the daemon cannot ask "
                             "for; store it unencrypted (openssl pkey -in KEY -out NEW), "
                             "readable by the daemon's user only, or hand it over with "
                             "systemd's LoadCredentialEncrypted="};
        }
        return Error{
            Errc::invalid_input,
            what + "holds no PEM private key (-----BEGIN PRIVATE KEY-----): " + ossl_reason()};
    }
    return std::shared_ptr<const SigningKey>(std::make_shared<SigningKey>(key));
}

// JWS signature bytes over `input`: PS256 (RSASSA-PSS, SHA-256, MGF1
// SHA-256, salt of 32 bytes, RFC 7518 §3.5) or ES256 (ECDSA P-256 SHA-256,
// r and s as 32 bytes each, RFC 7518 §3.4; OpenSSL gives DER).
Result<std::string> jws_sign(EVP_PKEY* key, bool rsa, std::string_view input) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1)
        return Error{Errc::internal_error, "signing the client assertion: " + ossl_reason()};
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1))
        return Error{Errc::internal_error, "signing the client assertion: " + ossl_reason()};
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    std::size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
        return Error{Errc::internal_error, "signing the client assertion: " + ossl_reason()};
    std::string sig(len, '\0');
    auto* out = reinterpret_cast<unsigned char*>(sig.data());
    if (EVP_DigestSign(ctx.get(), out, &len, data, input.size()) != 1)
        return Error{Errc::internal_error, "signing the client assertion: " + ossl_reason()};
    sig.resize(len);
    if (rsa) return sig;
    const unsigned char* p = out;
    std::unique_ptr<ECDSA_SIG, SigFree> ec(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
    if (!ec) return Error{Errc::internal_error, "signing the client assertion: " + ossl_reason()};
    std::string raw(64, '\0');
    auto* r = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(ec.get()), r, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(ec.get()), r + 32, 32) != 32)
        return Error{Errc::internal_error, "signing the client assertion: bad ECDSA signature"};
    return raw;
}

// A random GUID (version 4) for the jti claim.
Result<std::string> random_guid() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return Error{Errc::internal_error, "no random bytes for the assertion's jti"};
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    char out[37];
    std::snprintf(out, sizeof out,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return std::string(out);
}

}  // namespace

Credential::Credential(Secret secret) : parts_(std::make_unique<Parts>()) {
    parts_->secret = std::move(secret);
}
Credential::Credential(CertificateInfo info, std::shared_ptr<const SigningKey> key)
    : parts_(std::make_unique<Parts>()) {
    parts_->info = std::move(info);
    parts_->key = std::move(key);
}
Credential::~Credential() = default;
Credential::Credential(const Credential& o) : parts_(std::make_unique<Parts>(*o.parts_)) {}
Credential& Credential::operator=(const Credential& o) {
    if (this != &o) parts_ = std::make_unique<Parts>(*o.parts_);
    return *this;
}
Credential::Credential(Credential&&) noexcept = default;
Credential& Credential::operator=(Credential&&) noexcept = default;

const Secret* Credential::secret() const noexcept {
    return parts_ && parts_->secret ? &*parts_->secret : nullptr;
}
const CertificateInfo* Credential::certificate() const noexcept {
    return parts_ && parts_->info ? &*parts_->info : nullptr;
}

Result<std::string> Credential::client_assertion(std::string_view audience,
                                                 std::string_view client_id,
                                                 std::int64_t now) const {
    const CertificateInfo* info = certificate();
    if (info == nullptr || !parts_->key)
        return Error{Errc::internal_error, "a client assertion needs a certificate credential"};
    auto jti = random_guid();
    if (!jti) return std::move(jti).error();
    const nlohmann::json header = {
        {"alg", info->algorithm}, {"typ", "JWT"}, {"x5t#S256", info->x5t_s256}};
    const nlohmann::json claims = {
        {"aud", audience}, {"iss", client_id}, {"sub", client_id},           {"jti", *jti},
        {"nbf", now},      {"iat", now},       {"exp", now + kAssertionLife}};
    const std::string input =
        base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
    auto sig = jws_sign(parts_->key->key, info->algorithm == "PS256", input);
    if (!sig) return std::move(sig).error();
    return input + "." + base64url_encode(*sig);
}

Result<Credential> read_credential(const Tenant& tenant, std::string_view credentials_directory) {
    if (tenant.client_certificate_file.empty()) {
        auto secret = read_client_secret(tenant, credentials_directory);
        if (!secret) return std::move(secret).error();
        return Credential(std::move(*secret));
    }
    const std::string& cert_path = tenant.client_certificate_file;
    auto cert = read_certificate(
        cert_path, "tenant " + tenant.name + ": certificate file " + cert_path + ": ");
    if (!cert) return std::move(cert).error();

    const std::string key_path =
        credential_path(tenant, credentials_directory, "key", tenant.client_key_file);
    if (key_path.empty())
        return Error{Errc::not_found, "tenant " + tenant.name +
                                          ": no private key for the certificate (set "
                                          "client_key_file, or provide $CREDENTIALS_DIRECTORY/" +
                                          tenant.name + ".key)"};
    const std::string what = "tenant " + tenant.name + ": key file " + key_path + ": ";
    auto key = read_key(key_path, what);
    if (!key) return std::move(key).error();
    auto kind = key_kind((*key)->key);
    if (!kind) return Error{Errc::invalid_input, what + kind.error().message};

    CertificateInfo info;
    info.cert_file = cert_path;
    info.key_file = key_path;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (X509_digest(cert->get(), EVP_sha1(), md, &n) == 1) info.thumbprint = hex_upper(md, n);
    if (X509_digest(cert->get(), EVP_sha256(), md, &n) == 1)
        info.x5t_s256 = base64url_encode(std::string_view(reinterpret_cast<const char*>(md), n));
    info.subject = subject_of(cert->get());
    info.not_before = asn1_unix(X509_get0_notBefore(cert->get()));
    info.not_after = asn1_unix(X509_get0_notAfter(cert->get()));
    info.algorithm = kind->first;
    info.key_kind = kind->second;
    if (X509_check_private_key(cert->get(), (*key)->key) != 1) {
        ERR_clear_error();
        return Error{Errc::invalid_input, what + "does not match the certificate " + cert_path +
                                              " (thumbprint " + info.thumbprint +
                                              "): the key signs what that certificate cannot "
                                              "verify; use the key the certificate was made with"};
    }
    return Credential(std::move(info), std::move(*key));
}

CertificateCheck certificate_check(const CertificateInfo& info, std::int64_t now) {
    using State = CertificateCheck::State;
    const std::string which =
        "certificate " + info.cert_file + " (thumbprint " + info.thumbprint + ")";
    if (now < info.not_before)
        return {State::not_yet_valid, which + " is not valid before " + day_of(info.not_before)};
    if (now >= info.not_after)
        return {State::expired, which + " expired on " + day_of(info.not_after) +
                                    "; upload a new one to the app registration and point "
                                    "client_certificate_file and client_key_file at it"};
    if (info.not_after - now <= kCertificateWarning) {
        const std::int64_t days = (info.not_after - now) / 86400;
        return {State::expiring, which + " expires on " + day_of(info.not_after) + " (in " +
                                     std::to_string(days) + " day" + (days == 1 ? "" : "s") +
                                     "); rotate it: see the README, Certificate credentials"};
    }
    return {};
}

}  // namespace lrsched::config
