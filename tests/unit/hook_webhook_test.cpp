// post_webhook against the real lrsched-sim over loopback TLS (verified
// against the CA the simulator writes): what is retried, what is final, what
// the outcome says, and that the receiver saw every attempt with the same
// body. Backoffs are a few milliseconds: the test waits on nothing else.
#include "runtime/hook_webhook.hpp"

#include "net/coro.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <optional>

using lrsched::net::HttpsClient;
using lrsched::runtime::HookOutcome;
using lrsched::runtime::post_webhook;
using lrsched::runtime::WebhookPolicy;
using lrsched::test::BackgroundProcess;
using lrsched::test::TempDir;
using nlohmann::json;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// GET url: {status, body}; status 0 for a network error (co_spawn needs a
// default-constructible result, which Result<Response> is not).
asio::awaitable<std::pair<int, std::string>> get(HttpsClient* client, std::string url) {
    lrsched::net::Request req;
    req.url = std::move(url);
    req.body_limit = 8u << 20;
    auto r = co_await client->request(std::move(req));
    if (!r) co_return std::pair<int, std::string>{0, r.error().message};
    co_return std::pair<int, std::string>{r->status, r->body};
}

// One simulator whose every /hooks/<name> answers 500 to its first two posts.
struct Receiver {
    TempDir dir;
    BackgroundProcess proc;
    json ready;
    asio::io_context io;
    std::unique_ptr<HttpsClient> client;

    Receiver()
        : proc({LRSCHED_SIM_BINARY, "--machines", "1", "--seed", "1", "--port", "0", "--client-id",
                "11111111-1111-1111-1111-111111111111", "--client-secret", "sim-secret",
                "--state-dir", (dir.path() / "sim").string(), "--webhook-fail-first", "2"},
               (dir.path() / "sim.stderr").string()),
          ready(json::parse(proc.ready_line())) {
        auto c = HttpsClient::create(io, {ready["ca_file"].get<std::string>(), "lrsched-test"});
        REQUIRE(c.ok());
        client = std::move(*c);
    }
    std::string base() const { return ready["base"]; }

    template <typename T>
    T run(asio::awaitable<T> a) {
        std::optional<T> out;
        auto done = [&out](const std::exception_ptr& e, T v) {
            if (e) std::rethrow_exception(e);
            out = std::move(v);
        };
        asio::co_spawn(io, std::move(a), done);
        io.restart();
        io.run();
        REQUIRE(out.has_value());
        return std::move(*out);
    }

    HookOutcome post(const std::string& url, const std::string& body, int attempts = 5) {
        WebhookPolicy p;
        p.max_attempts = attempts;
        p.first_backoff = 1ms;
        p.max_backoff = 4ms;
        p.timeout = 20s;
        return run(post_webhook(client.get(), url, body, p));
    }

    // What the receiver saw at /hooks/<name>: [{"status":..,"body":..},...]
    json received(const std::string& name) {
        const auto [status, body] = run(get(client.get(), base() + "/hooks/" + name));
        REQUIRE(status == 200);
        return json::parse(body).at("received");
    }
};

const std::string kBody = R"({"job":"nightly","run":7,"summary":{"done":3,"failed":1}})";

}  // namespace

TEST_CASE("webhook: a receiver that answers 200 is posted to once") {
    Receiver sim;
    const auto out = sim.post(sim.base() + "/hooks/ok?status=200", kBody);
    CHECK(out.kind == "webhook");
    CHECK(out.ok);
    CHECK(out.attempts == 1);
    CHECK(out.detail == "HTTP 200 after 1 attempt");
    const auto seen = sim.received("ok");
    REQUIRE(seen.size() == 1);
    CHECK(seen[0]["body"] == kBody);
}

TEST_CASE("webhook: 500 twice then 200 takes three attempts with the same body") {
    Receiver sim;
    const auto out = sim.post(sim.base() + "/hooks/flaky", kBody);
    CHECK(out.ok);
    CHECK(out.attempts == 3);
    CHECK(out.detail == "HTTP 200 after 3 attempts");
    const auto seen = sim.received("flaky");
    REQUIRE(seen.size() == 3);
    CHECK(seen[0]["status"] == 500);
    CHECK(seen[1]["status"] == 500);
    CHECK(seen[2]["status"] == 200);
    for (const auto& s : seen)
        CHECK(s["body"] == kBody);
}

TEST_CASE("webhook: a receiver that always fails is given up after max_attempts") {
    Receiver sim;
    const auto out = sim.post(sim.base() + "/hooks/down?status=500&token=SECRET", kBody, 4);
    CHECK_FALSE(out.ok);
    CHECK(out.attempts == 4);
    CHECK(out.detail == "HTTP 500, 4 attempts, gave up");
    CHECK(sim.received("down").size() == 4);
    // 429 is retried too, after its Retry-After (0 s here).
    const auto busy = sim.post(sim.base() + "/hooks/busy?status=429&retry_after=0", kBody, 3);
    CHECK(busy.detail == "HTTP 429, 3 attempts, gave up");
    CHECK(sim.received("busy").size() == 3);
}

TEST_CASE("webhook: a 400 is final and not retried") {
    Receiver sim;
    const auto out = sim.post(sim.base() + "/hooks/bad?status=400&sig=SECRET", kBody);
    CHECK_FALSE(out.ok);
    CHECK(out.attempts == 1);
    CHECK(out.detail == "HTTP 400, 1 attempt, not retried");
    CHECK(out.detail.find("SECRET") == std::string::npos);
    CHECK(sim.received("bad").size() == 1);
}

TEST_CASE("webhook: an unreachable receiver is retried, then given up, naming no query") {
    Receiver sim;
    // Port 1 on loopback: nothing listens there, the connection is refused.
    const auto out = sim.post("https://127.0.0.1:1/hooks/x?token=SECRET", kBody, 3);
    CHECK_FALSE(out.ok);
    CHECK(out.attempts == 3);
    CAPTURE(out.detail);
    CHECK(out.detail.find("cannot connect") != std::string::npos);
    CHECK(out.detail.find(", 3 attempts, gave up") != std::string::npos);
    CHECK(out.detail.find("SECRET") == std::string::npos);
}

TEST_CASE("webhook: a URL that is not https is refused without a request") {
    Receiver sim;
    const auto out = sim.post("http://user:SECRET@127.0.0.1/hooks/x?token=SECRET", kBody);
    CHECK_FALSE(out.ok);
    CHECK(out.attempts == 0);
    CHECK(out.detail.rfind("cannot post: bad URL", 0) == 0);
    CHECK(out.detail.find("SECRET") == std::string::npos);
}
