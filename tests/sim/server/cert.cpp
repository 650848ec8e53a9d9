// Certificate generation with OpenSSL 3's EVP and X509 APIs. RAII wrappers
// keep every error path free of hand-written frees.
#include "cert.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace lrsched::sim {
namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const { BIO_free_all(p); }
};
struct ExtFree {
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Bio = std::unique_ptr<BIO, BioFree>;
using Ext = std::unique_ptr<X509_EXTENSION, ExtFree>;

Error ossl_error(const std::string& what) {
    const unsigned long e = ERR_get_error();
    char buf[256] = {};
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return Error(Errc::tls_error, what + ": " + buf);
}

Pkey new_p256_key() {
    return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A certificate for `key` named `cn`, signed by issuer_key (self-signed when
// issuer is null). `exts` are (nid, value) pairs in X509V3 config syntax.
Result<Cert> make_cert(EVP_PKEY* key,
                       const char* cn,
                       X509* issuer,
                       EVP_PKEY* issuer_key,
                       std::initializer_list<std::pair<int, const char*>> exts,
                       long valid_from = -3600,
                       long valid_until = 30L * 24 * 3600) {
    Cert cert(X509_new());
    if (!cert) return ossl_error("X509_new");
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return ossl_error("RAND_bytes");
    serial[0] &= 0x7f;  // a positive serial number
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    const bool serial_ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    X509_NAME* name = X509_get_subject_name(cert.get());
    const auto* cn_bytes = reinterpret_cast<const unsigned char*>(cn);
    const bool ok =
        serial_ok && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), valid_from) &&
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), valid_until) &&
        X509_set_pubkey(cert.get(), key) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn_bytes, -1, -1, 0) == 1 &&
        X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) == 1;
    if (!ok) return ossl_error(std::string("building certificate ") + cn);
    X509* signer = issuer ? issuer : cert.get();
    for (const auto& [nid, value] : exts) {
        if (!add_ext(cert.get(), signer, nid, value)) {
            return ossl_error(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
        }
    }
    if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0)
        return ossl_error(std::string("signing ") + cn);
    return cert;
}

// Writes PEM text produced by `emit` into `path` with `mode` (set even when
// the file existed with looser permissions).
template <typename Emit>
Result<void> write_pem(const std::filesystem::path& path, mode_t mode, Emit emit) {
    Bio mem(BIO_new(BIO_s_mem()));
    if (!mem || !emit(mem.get())) return ossl_error("PEM encoding " + path.string());
    char* data = nullptr;
    const long len = BIO_get_mem_data(mem.get(), &data);
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        return Error(Errc::io_error, "cannot write " + path.string() + ": " +
                                         std::generic_category().message(errno));
    }
    const bool written = ::fchmod(fd, mode) == 0 &&
                         ::write(fd, data, static_cast<std::size_t>(len)) == len &&
                         ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!written) {
        return Error(Errc::io_error, "cannot write " + path.string() + ": " +
                                         std::generic_category().message(saved));
    }
    return lrsched::ok();
}

Pkey new_client_key(ClientKey kind) {
    switch (kind) {
        case ClientKey::rsa2048:
            return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
        case ClientKey::rsa1024:
            return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024}));
        case ClientKey::ec_p256:
            return new_p256_key();
        case ClientKey::ec_p384:
            return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    }
    return nullptr;
}

}  // namespace

Result<ClientCredentialFiles> generate_client_credential(const std::filesystem::path& dir,
                                                         const std::string& name,
                                                         ClientKey kind,
                                                         long valid_from,
                                                         long valid_until) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    Pkey key = new_client_key(kind);
    if (!key) return ossl_error("client key generation");
    const std::string cn = "lrsched test client " + name;
    auto cert = make_cert(key.get(), cn.c_str(), nullptr, nullptr,
                          {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature"},
                           {NID_subject_key_identifier, "hash"}},
                          valid_from, valid_until);
    if (!cert) return std::move(cert).error();
    ClientCredentialFiles files{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
    X509* c = cert->get();
    EVP_PKEY* k = key.get();
    auto key_pem = [k](BIO* b) {
        return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    };
    auto cert_pem = [c](BIO* b) { return PEM_write_bio_X509(b, c) == 1; };
    if (auto r = write_pem(files.key_file, 0600, key_pem); !r) return std::move(r).error();
    if (auto r = write_pem(files.cert_file, 0644, cert_pem); !r) return std::move(r).error();
    return files;
}

Result<CertFiles> generate_certificates(const std::filesystem::path& dir, ServerNames names) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());

    Pkey ca_key = new_p256_key();
    Pkey server_key = new_p256_key();
    if (!ca_key || !server_key) return ossl_error("EC P-256 key generation");

    auto ca = make_cert(ca_key.get(), "lrsched-sim test CA", nullptr, nullptr,
                        {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign"},
                         {NID_subject_key_identifier, "hash"}});
    if (!ca) return std::move(ca).error();
    const bool wrong_host = names == ServerNames::wrong_host;
    const char* san = wrong_host ? "DNS:wrong.example" : "IP:127.0.0.1,DNS:localhost";
    const char* cn = wrong_host ? "wrong.example" : "localhost";
    auto server = names == ServerNames::cn_only
                      ? make_cert(server_key.get(), cn, ca->get(), ca_key.get(),
                                  {{NID_basic_constraints, "critical,CA:FALSE"},
                                   {NID_key_usage, "critical,digitalSignature"},
                                   {NID_ext_key_usage, "serverAuth"},
                                   {NID_subject_key_identifier, "hash"},
                                   {NID_authority_key_identifier, "keyid:always"}})
                      : make_cert(server_key.get(), cn, ca->get(), ca_key.get(),
                                  {{NID_basic_constraints, "critical,CA:FALSE"},
                                   {NID_key_usage, "critical,digitalSignature"},
                                   {NID_ext_key_usage, "serverAuth"},
                                   {NID_subject_alt_name, san},
                                   {NID_subject_key_identifier, "hash"},
                                   {NID_authority_key_identifier, "keyid:always"}});
    if (!server) return std::move(server).error();

    CertFiles files{(dir / "ca.pem").string(), (dir / "server.pem").string(),
                    (dir / "server.key").string()};
    X509* ca_cert = ca->get();
    X509* server_cert = server->get();
    EVP_PKEY* key = server_key.get();
    auto key_pem = [key](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    };
    auto ca_pem = [ca_cert](BIO* b) { return PEM_write_bio_X509(b, ca_cert) == 1; };
    auto chain_pem = [server_cert, ca_cert](BIO* b) {
        return PEM_write_bio_X509(b, server_cert) == 1 && PEM_write_bio_X509(b, ca_cert) == 1;
    };
    if (auto r = write_pem(files.key_file, 0600, key_pem); !r) return std::move(r).error();
    if (auto r = write_pem(files.ca_file, 0644, ca_pem); !r) return std::move(r).error();
    if (auto r = write_pem(files.cert_file, 0644, chain_pem); !r) return std::move(r).error();
    return files;
}

}  // namespace lrsched::sim
