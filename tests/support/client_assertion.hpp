// Client assertions (issue 16) made the way a client makes them: a
// certificate credential from generate_client_credential(), its thumbprints
// computed here with OpenSSL (independently of lrsched-sim's loader), and a
// JWS signed with EVP (PS256, RS256, ES256 as raw r||s). For tests only.
#pragma once

#include "common/base64url.hpp"
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

#include <memory>
#include <string>

namespace lrsched::test::assertion {

struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct MdFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline std::string upper_hex(const std::string& raw) {
    static const char* d = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : raw) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

// A credential as an operator has it: the files, and the thumbprints
// computed here (independently of the simulator's loader).
struct Credential {
    std::string cert_file, key_file;
    std::string sha256, sha1;  // raw digests of the DER
    std::string public_pem;
};

inline Credential make_credential(const TempDir& dir,
                                  const std::string& name,
                                  lrsched::sim::ClientKey kind,
                                  long from = -3600,
                                  long until = 365L * 24 * 3600) {
    auto files = lrsched::sim::generate_client_credential(dir.path(), name, kind, from, until);
    REQUIRE(files.ok());
    Credential c{files->cert_file, files->key_file, {}, {}, {}};
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(c.cert_file.c_str(), "r"));
    std::unique_ptr<X509, X509Free> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    REQUIRE(X509_digest(x.get(), EVP_sha256(), md, &n) == 1);
    c.sha256.assign(reinterpret_cast<char*>(md), n);
    REQUIRE(X509_digest(x.get(), EVP_sha1(), md, &n) == 1);
    c.sha1.assign(reinterpret_cast<char*>(md), n);
    std::unique_ptr<BIO, BioFree> mem(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_PUBKEY(mem.get(), X509_get0_pubkey(x.get())) == 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(mem.get(), &data);
    c.public_pem.assign(data, static_cast<std::size_t>(len));
    return c;
}

// The JWS signature of `input` by the key in `key_file`, as RFC 7518 wants
// it on the wire (ES256: raw r||s, 64 bytes).
inline std::string sign(const std::string& alg,
                        const std::string& key_file,
                        const std::string& input) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(key_file.c_str(), "r"));
    Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(key);
    std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    REQUIRE(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) == 1);
    if (alg == "PS256") {
        REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1);
        REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1);
    }
    std::size_t n = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &n, in, input.size()) == 1);
    std::string sig(n, '\0');
    REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, in,
                           input.size()) == 1);
    sig.resize(n);
    if (alg != "ES256") return sig;
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    REQUIRE(es != nullptr);
    std::string raw(64, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(es), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), out + 32, 32);
    ECDSA_SIG_free(es);
    return raw;
}

inline std::string jwt(const nlohmann::json& header,
                       const nlohmann::json& claims,
                       const std::string& alg,
                       const std::string& key_file) {
    const std::string input =
        lrsched::base64url_encode(header.dump()) + "." + lrsched::base64url_encode(claims.dump());
    return input + "." + lrsched::base64url_encode(sign(alg, key_file, input));
}

}  // namespace lrsched::test::assertion
