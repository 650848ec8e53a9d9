// A tenant's client credential for the token endpoint (mde-api.md §7): the
// client secret, or a certificate and its private key, with which the daemon
// signs a short-lived JWT client assertion (Entra's certificate credential;
// what security teams require for an application that can run scripts on
// every machine). Read at start, at `reload` and by `validate -c`; one
// assertion signed per token request (about one an hour per tenant).
//
// Neither the secret nor the key has a format or log path: messages name the
// files, the certificate's thumbprint, subject and dates, never the content.
#pragma once

#include "common/result.hpp"
#include "config/config.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lrsched::config {

// What the certificate says, as an operator matches it against the app
// registration's "Certificates & secrets" page.
struct CertificateInfo {
    std::string cert_file;
    std::string key_file;         // where the key was read (maybe $CREDENTIALS_DIRECTORY)
    std::string thumbprint;       // SHA-1 of the DER, upper-case hex: the portal's column
    std::string x5t_s256;         // base64url SHA-256 of the DER: the JWT header's x5t#S256
    std::string subject;          // one line (RFC 2253); from a file: quote it in messages
    std::int64_t not_before = 0;  // Unix seconds
    std::int64_t not_after = 0;
    std::string algorithm;  // the JWS alg: PS256 (RSA) or ES256 (EC P-256)
    std::string key_kind;   // "RSA 3072", "EC P-256"
};

class SigningKey;  // the private key (an OpenSSL EVP_PKEY), opaque here

class Credential {
  public:
    explicit Credential(Secret secret);
    Credential(CertificateInfo info, std::shared_ptr<const SigningKey> key);
    ~Credential();
    Credential(const Credential&);
    Credential& operator=(const Credential&);
    Credential(Credential&&) noexcept;
    Credential& operator=(Credential&&) noexcept;

    // Exactly one of the two is set.
    const Secret* secret() const noexcept;
    const CertificateInfo* certificate() const noexcept;

    // A signed JWT client assertion (RFC 7523; Entra's certificate
    // credential): header alg, typ JWT, x5t#S256; claims aud (the token
    // endpoint's URL), iss = sub = client id, a random jti (a GUID),
    // nbf = iat = now, exp = now + kAssertionLife. Only for a certificate.
    Result<std::string> client_assertion(std::string_view audience,
                                         std::string_view client_id,
                                         std::int64_t now) const;

  private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

inline constexpr std::int64_t kAssertionLife = 600;  // Entra: keep it 5-10 minutes
// `validate -c`, `status` and the log warn this long before the end.
inline constexpr std::int64_t kCertificateWarning = std::int64_t{30} * 24 * 3600;

// Reads the tenant's credential. With client_certificate_file set: the
// certificate (PEM, the first one in the file; a link is followed, it is
// public) and the private key from `$CREDENTIALS_DIRECTORY/<name>.key` when
// that file exists, else client_key_file (PEM, unencrypted, RSA of 2048 bits
// or more, or EC P-256; refused if group or others may access it or if it
// is a link); the key must match the certificate. Otherwise the secret
// (read_client_secret). An expired certificate is read all the same (the
// token endpoint decides; certificate_check says it), so that a daemon
// started with one pauses that tenant instead of refusing to start.
Result<Credential> read_credential(const Tenant& tenant, std::string_view credentials_directory);

// Where a certificate stands at `now`: fine, within kCertificateWarning of
// its end, expired or not yet valid, with a sentence saying which and when
// (dates in UTC, ISO 8601).
struct CertificateCheck {
    enum class State { valid, expiring, expired, not_yet_valid } state = State::valid;
    std::string message;  // empty when valid
    bool failed() const noexcept {
        return state == State::expired || state == State::not_yet_valid;
    }
};
CertificateCheck certificate_check(const CertificateInfo& info, std::int64_t now);

}  // namespace lrsched::config
