// A scripted lrsched-sim transport for the HTTPS client tests: the server
// runs on its own thread with a small Handler that answers by path (echo, a
// 50 MB pattern download, a slow reply, reset and truncate faults) and counts
// its calls. No sleeps: slow answers are timers that stop() cancels.
#pragma once

#include "net/https_client.hpp"
#include "sim/server/server.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace lrsched::test {

using lrsched::net::ClientOptions;
using lrsched::net::Request;
using lrsched::sim::BodySource;
using lrsched::sim::Fault;
using lrsched::sim::HttpRequest;
using lrsched::sim::HttpResponse;
using lrsched::sim::Server;
using lrsched::sim::ServerOptions;

inline constexpr std::uint64_t kBigSize = 50ull << 20;

// Deterministic bytes (xorshift64), the same for the server and the check.
class PatternSource final : public BodySource {
  public:
    explicit PatternSource(std::uint64_t size) : size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read(char* buf, std::size_t n) override {
        std::size_t k = 0;
        for (; k < n && pos_ < size_; ++k, ++pos_) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            buf[k] = static_cast<char>(state_ & 0xff);
        }
        return k;
    }

  private:
    std::uint64_t size_;
    std::uint64_t pos_ = 0;
    std::uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

class Sha256 {
  public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view s) { EVP_DigestUpdate(ctx_, s.data(), s.size()); }
    std::string hex() {
        unsigned char md[32];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx_, md, &len);
        static constexpr char kHex[] = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out += kHex[md[i] >> 4];
            out += kHex[md[i] & 15];
        }
        return out;
    }

  private:
    EVP_MD_CTX* ctx_;
};

inline std::string pattern_sha256(std::uint64_t size) {
    PatternSource src(size);
    Sha256 sha;
    std::string buf(1 << 16, '\0');
    while (std::size_t n = src.read(buf.data(), buf.size()))
        sha.update({buf.data(), n});
    return sha.hex();
}

// Answers by path; counts what it sees (called on the server's thread).
class ScriptedHandler final : public lrsched::sim::Handler {
  public:
    std::atomic<int> calls{0};

    HttpResponse handle(const HttpRequest& req, double) override {
        ++calls;
        HttpResponse res;
        const std::string path = req.target.substr(0, req.target.find('?'));
        if (path == "/echo") {
            res.headers.emplace_back("Content-Type", "text/plain");
            res.headers.emplace_back("X-Echo", std::string(req.header("x-test")));
            res.body = req.method + " " + req.target + "\n" + req.body;
        } else if (path == "/big") {
            res.stream = std::make_unique<PatternSource>(kBigSize);
        } else if (path == "/slow") {
            res.delay_seconds = 3600;  // far beyond any client deadline; stop() cancels it
            res.body = "late";
        } else if (path == "/reset") {
            res.fault = Fault::reset_before_reply;
        } else if (path == "/truncate") {
            res.body = std::string(100'000, 'x');
            res.fault = Fault::truncate_body;
            res.truncate_at = 1'000;
        } else if (path == "/large") {
            res.body = std::string(10'000, 'y');
        } else {
            res.status = 404;
            res.body = "no such path";
        }
        return res;
    }
};

// The simulator's transport on its own thread, stopped and joined at the end.
class Sim {
  public:
    explicit Sim(bool wrong_host = false) {
        ServerOptions o;
        o.state_dir = (dir_.path() / "sim").string();
        o.wrong_host = wrong_host;
        server_ = unwrap(Server::create(o, handler));
        thread_ = std::thread([s = server_.get()] { s->run(); });
    }
    ~Sim() {
        server_->stop();
        thread_.join();
    }
    Sim(const Sim&) = delete;
    Sim& operator=(const Sim&) = delete;

    Server& server() { return *server_; }
    std::string url(const std::string& path) const { return server_->ready().base + path; }
    std::string url_on(const std::string& host, const std::string& path) const {
        return "https://" + host + ":" + std::to_string(server_->ready().port) + path;
    }
    ClientOptions trusting() const {
        return ClientOptions{server_->ready().ca_file, "lrsched-test"};
    }

    ScriptedHandler handler;

  private:
    TempDir dir_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

inline Request get(const std::string& url, std::uint64_t limit = 1 << 20) {
    Request r;
    r.url = url;
    r.body_limit = limit;
    return r;
}

inline Request post(const std::string& url, std::string body) {
    Request r = get(url);
    r.method = "POST";
    r.body = std::move(body);
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
}

}  // namespace lrsched::test
