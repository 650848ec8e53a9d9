// Entra's certificate credential as lrsched-sim checks it (issue 16): the
// client certificates registered on the sim's one application, and the
// verifier of a `client_assertion` JWT (RFC 7523) signed with one of their
// keys. Certificates are loaded once at start; an assertion is verified per
// token request (about one an hour per daemon, a few hundred in a test run).
// The replay set holds up to `max_jtis` entries (100,000 by default), each a
// 32-byte hash, so its memory is bounded whatever clients send.
//
// The refusals, in the order they are checked, and where each code comes from:
//   400 invalid_request AADSTS900144   client_assertion without client_assertion_type
//   400 invalid_request AADSTS50027    a client_assertion_type that is not jwt-bearer
//   401 invalid_client  AADSTS50027    not a JWT, bad alg, missing or mistyped claims
//                                      (reference-error-codes: InvalidJwtToken)
//   401 invalid_client  AADSTS700027   no registered cert with that thumbprint; the
//                                      cert expired; the signature does not match
//                                      (MSAL migration and Entra support articles)
//   401 invalid_client  AADSTS700021   iss or sub is not the client_id
//   401 invalid_client  AADSTS50027    aud is not this token endpoint
//   401 invalid_client  AADSTS700024   nbf/exp outside now +- 5 min, exp before nbf,
//                                      or exp - nbf over a day
//   401 invalid_client  AADSTS50013    the jti was seen before (see assertion.cpp)
#pragma once

#include "common/result.hpp"

#include <openssl/types.h>  // EVP_PKEY's name only

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrsched::sim {

inline constexpr std::string_view kJwtBearer =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// One registered certificate: what Entra keeps of an uploaded .cer.
struct ClientCert {
    std::string file;             // where it was loaded from, for messages
    std::string sha256;           // raw 32 bytes of SHA-256(DER): the x5t#S256 header
    std::string sha1;             // raw 20 bytes of SHA-1(DER): the x5t header
    std::int64_t not_before = 0;  // Unix seconds
    std::int64_t not_after = 0;
    std::shared_ptr<EVP_PKEY> key;  // the public key
};

// Reads one PEM certificate; the error names the file.
Result<ClientCert> load_client_cert(const std::string& file);

// std::chrono::system_clock as Unix seconds.
double system_wall_clock();

// Why an assertion was refused: the pieces of SimApi::entra_error().
struct Refusal {
    int status = 401;
    std::string error = "invalid_client";
    int code = 0;
    std::string description;  // without the "AADSTSnnn: " prefix
};

// The answer to an assertion whose jti was used before.
Refusal replay_refusal();

// What the verifier needs to know of the request besides the assertion.
struct AssertionContext {
    std::string client_id;  // the form's client_id (already known to be the app's)
    std::string host;       // the request's Host (aud names it)
    std::string tenant;     // the tenant of the token path
    double wall_now = 0;    // Unix seconds: the wall clock plus clock_offset
};

class AssertionVerifier {
  public:
    static constexpr std::size_t kDefaultMaxJtis = 100'000;
    static constexpr std::size_t kMaxAssertion = std::size_t{16} * 1024;
    static constexpr double kSkew = 300;            // Entra's 5 minutes, both ways
    static constexpr double kMaxLifetime = 86'400;  // exp - nbf

    explicit AssertionVerifier(std::size_t max_jtis = kDefaultMaxJtis) : max_jtis_(max_jtis) {}

    void add(ClientCert cert) { certs_.push_back(std::move(cert)); }
    bool empty() const noexcept { return certs_.empty(); }
    std::size_t jtis_held() const noexcept { return jti_expiry_.size(); }

    // Checks `assertion` fully; nullopt when accepted (its jti then recorded).
    std::optional<Refusal> verify(std::string_view assertion, const AssertionContext& ctx);
    // The file of the certificate whose key signed the last accepted assertion.
    const std::string& accepted_file() const noexcept { return accepted_file_; }

  private:
    void forget_expired(double wall_now);
    std::optional<Refusal> check_replay(const std::string& jti_hash, double exp);

    std::vector<ClientCert> certs_;
    std::string accepted_file_;
    std::size_t max_jtis_;
    // SHA-256 of (client id, jti) -> when it may be forgotten; and the same
    // ordered by that time, so expired entries go from the front.
    std::map<std::string, double> jti_expiry_;
    std::set<std::pair<double, std::string>> by_expiry_;
};

}  // namespace lrsched::sim
