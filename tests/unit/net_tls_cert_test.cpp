// lrsched-sim's throwaway certificates: the CA signs the server certificate,
// the subjectAltName is exactly what clients will check, the key is private.
#include "sim/server/cert.hpp"
#include "support/https_sync.hpp"
#include "support/sim_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <thread>

using lrsched::sim::generate_certificates;
using lrsched::sim::ServerNames;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert read_cert(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    REQUIRE(f != nullptr);
    Cert c(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    REQUIRE(c);
    return c;
}

bool signed_by(X509* cert, X509* ca) {
    EVP_PKEY* key = X509_get0_pubkey(ca);
    return key != nullptr && X509_verify(cert, key) == 1;
}

bool names_host(X509* cert, const char* host) {
    return X509_check_host(cert, host, 0, 0, nullptr) == 1;
}

bool names_ip(X509* cert, const char* ip) {
    return X509_check_ip_asc(cert, ip, 0) == 1;
}

}  // namespace

TEST_CASE("tls cert: the CA signs a server certificate for 127.0.0.1 and localhost") {
    TempDir dir;
    auto files = unwrap(generate_certificates(dir.path() / "state", false));
    Cert ca = read_cert(files.ca_file);
    Cert server = read_cert(files.cert_file);  // the chain starts with the server's own

    CHECK(signed_by(server.get(), ca.get()));
    CHECK(signed_by(ca.get(), ca.get()));
    CHECK(X509_check_ca(ca.get()) >= 1);
    CHECK(X509_check_ca(server.get()) == 0);
    CHECK(X509_get_version(server.get()) == X509_VERSION_3);
    CHECK(names_ip(server.get(), "127.0.0.1"));
    CHECK(names_host(server.get(), "localhost"));
    CHECK_FALSE(names_host(server.get(), "wrong.example"));
    CHECK_FALSE(names_ip(server.get(), "127.0.0.2"));

    struct stat st {};
    REQUIRE(::stat(files.key_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("tls cert: wrong-host mode names only wrong.example") {
    TempDir dir;
    auto files = unwrap(generate_certificates(dir.path(), true));
    Cert ca = read_cert(files.ca_file);
    Cert server = read_cert(files.cert_file);
    CHECK(signed_by(server.get(), ca.get()));
    CHECK(names_host(server.get(), "wrong.example"));
    CHECK_FALSE(names_host(server.get(), "localhost"));
    CHECK_FALSE(names_ip(server.get(), "127.0.0.1"));
}

TEST_CASE("tls cert: each run gets its own CA") {
    TempDir dir;
    auto a = unwrap(generate_certificates(dir.path() / "a", false));
    auto b = unwrap(generate_certificates(dir.path() / "b", false));
    Cert server_a = read_cert(a.cert_file);
    Cert ca_b = read_cert(b.ca_file);
    CHECK_FALSE(signed_by(server_a.get(), ca_b.get()));
}

TEST_CASE("tls cert: cn-only mode names localhost in the subject and has no subjectAltName") {
    TempDir dir;
    auto files = unwrap(generate_certificates(dir.path(), ServerNames::cn_only));
    Cert ca = read_cert(files.ca_file);
    Cert server = read_cert(files.cert_file);
    CHECK(signed_by(server.get(), ca.get()));
    CHECK(X509_get_ext_by_NID(server.get(), NID_subject_alt_name, -1) < 0);
    // OpenSSL's default falls back to the subject's CN: what the client must not do.
    CHECK(names_host(server.get(), "localhost"));
    CHECK(X509_check_host(server.get(), "localhost", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                          nullptr) == 0);
}

TEST_CASE("https: a certificate naming the host only in its CN is refused before any request") {
    TempDir dir;
    const auto files = unwrap(generate_certificates(dir.path() / "certs", ServerNames::cn_only));
    lrsched::sim::ServerOptions o;
    o.cert_file = files.cert_file;
    o.key_file = files.key_file;
    o.ca_file = files.ca_file;
    lrsched::test::ScriptedHandler handler;
    auto server = unwrap(lrsched::sim::Server::create(o, handler));
    std::thread serving([s = server.get()] { s->run(); });

    lrsched::test::SyncHttpsClient client({files.ca_file, "lrsched-test"});
    const std::string url = "https://localhost:" + std::to_string(server->ready().port) + "/echo";
    auto r = client.call(lrsched::test::get(url));
    server->stop();
    serving.join();

    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == lrsched::Errc::tls_error);
    CHECK(r.error().message.find("not valid for host name localhost") != std::string::npos);
    CHECK(handler.calls == 0);  // no request byte reached the server
    CHECK(server->stats().requests == 0);
}
