// lrsched-sim's transport as its main() uses it: run_server() announces where
// it listens, serves, and returns on SIGTERM; existing certificate files are
// served as given.
#include "sim/server/cert.hpp"
#include "sim/server/server.hpp"
#include "support/https_sync.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <unistd.h>

using lrsched::net::ClientOptions;
using lrsched::net::Request;
using lrsched::sim::HttpRequest;
using lrsched::sim::HttpResponse;
using lrsched::sim::ReadyInfo;
using lrsched::sim::Server;
using lrsched::sim::ServerOptions;
using lrsched::test::SyncHttpsClient;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

class TargetHandler final : public lrsched::sim::Handler {
  public:
    HttpResponse handle(const HttpRequest& req, double) override {
        HttpResponse res;
        res.body = req.target;
        return res;
    }
};

Request get(const std::string& url) {
    Request r;
    r.url = url;
    r.body_limit = 4096;
    return r;
}

}  // namespace

TEST_CASE(
    "https sim server: run_server announces its base and CA, serves, and returns on SIGTERM") {
    TempDir dir;
    TargetHandler handler;
    ServerOptions options;
    options.state_dir = (dir.path() / "state").string();
    std::promise<ReadyInfo> ready;
    std::optional<lrsched::Result<int>> result;
    std::thread serving([&] {
        auto announce = [&ready](const ReadyInfo& info) { ready.set_value(info); };
        result.emplace(run_server(options, handler, announce));
    });
    const ReadyInfo info = ready.get_future().get();
    CHECK(info.port != 0);
    CHECK(info.base == "https://127.0.0.1:" + std::to_string(info.port));
    CHECK(std::filesystem::exists(info.ca_file));

    SyncHttpsClient client(ClientOptions{info.ca_file, "test"});
    CHECK(unwrap(client.call(get(info.base + "/hello"))).body == "/hello");

    ::kill(::getpid(), SIGTERM);  // handled by the server's signal_set
    serving.join();
    REQUIRE(result.has_value());
    CHECK(unwrap(std::move(*result)) == 0);
}

TEST_CASE("https sim server: serves certificate files it is given, and wants all three") {
    TempDir dir;
    auto files = unwrap(lrsched::sim::generate_certificates(dir.path() / "given", false));
    TargetHandler handler;
    ServerOptions options;
    options.cert_file = files.cert_file;
    options.key_file = files.key_file;
    options.ca_file = files.ca_file;
    auto server = unwrap(Server::create(options, handler));
    CHECK(server->ready().ca_file == files.ca_file);
    std::thread serving([s = server.get()] { s->run(); });
    SyncHttpsClient client(ClientOptions{files.ca_file, "test"});
    auto r = client.call(get(server->ready().base + "/given"));
    server->stop();
    serving.join();
    CHECK(unwrap(std::move(r)).body == "/given");

    options.ca_file.clear();
    auto partial = Server::create(options, handler);
    REQUIRE_FALSE(partial);
    CHECK(partial.error().code == lrsched::Errc::invalid_input);
}
