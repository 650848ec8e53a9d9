// Throwaway TLS material for lrsched-sim: a CA that lives for one simulator
// run and a server certificate it signs, for 127.0.0.1 and localhost (or, in
// wrong-host mode, only for wrong.example, so a client can prove it checks the
// host name). Expected load: once per simulator start, a few milliseconds.
#pragma once

#include "common/result.hpp"

#include <filesystem>
#include <string>

namespace lrsched::sim {

struct CertFiles {
    std::string ca_file;    // ca.pem: what clients trust
    std::string cert_file;  // server.pem: the server certificate, then the CA
    std::string key_file;   // server.key: mode 0600
};

// What the server certificate names.
enum class ServerNames {
    loopback,    // subjectAltName IP:127.0.0.1, DNS:localhost
    wrong_host,  // subjectAltName DNS:wrong.example only
    cn_only,     // subject CN=localhost and no subjectAltName: what a client
                 // that falls back to the CN would take for localhost
};

// Generates an EC P-256 CA and server certificate (X.509 v3, valid from an
// hour ago for 30 days) and writes them into `dir` (created if needed).
// The CA's private key is never written: nothing can be signed with it later.
Result<CertFiles> generate_certificates(const std::filesystem::path& dir, ServerNames names);
inline Result<CertFiles> generate_certificates(const std::filesystem::path& dir, bool wrong_host) {
    return generate_certificates(dir, wrong_host ? ServerNames::wrong_host : ServerNames::loopback);
}

// A client's certificate credential (issue 16) as an operator makes one with
// `openssl req -x509`: a self-signed certificate `<name>.crt` (0644) and its
// private key `<name>.key` (0600, PEM PKCS#8, unencrypted) in `dir`. The
// certificate is valid from `valid_from` to `valid_until` seconds from now
// (negative: in the past), so tests can make expired and not-yet-valid ones.
// rsa1024 and ec_p384 are keys the daemon must refuse.
enum class ClientKey { rsa2048, rsa1024, ec_p256, ec_p384 };
struct ClientCredentialFiles {
    std::string cert_file;
    std::string key_file;
};
Result<ClientCredentialFiles> generate_client_credential(const std::filesystem::path& dir,
                                                         const std::string& name,
                                                         ClientKey kind,
                                                         long valid_from = -3600,
                                                         long valid_until = 365L * 24 * 3600);

}  // namespace lrsched::sim
