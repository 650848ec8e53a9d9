// SyncHttpsClient: see https_sync.hpp. The io_context outlives every call so
// pooled keep-alive connections survive between them.
#include "support/https_sync.hpp"

#include "net/net.hpp"

#include <doctest/doctest.h>

#include <exception>
#include <optional>

namespace lrsched::test {

struct SyncHttpsClient::Impl {
    net::asio::io_context io{1};
    std::unique_ptr<net::HttpsClient> client;
};

namespace {

// co_spawn of an awaitable<T> needs a default-constructible T for its
// exception path; Result has no default, so the result goes out by pointer.
net::asio::awaitable<void> call_once(net::HttpsClient* client,
                                     net::Request request,
                                     std::optional<Result<net::Response>>* out) {
    out->emplace(co_await client->request(std::move(request)));
}

}  // namespace

SyncHttpsClient::SyncHttpsClient(const net::ClientOptions& options)
    : impl_(std::make_unique<Impl>()) {
    auto c = net::HttpsClient::create(impl_->io, options);
    if (!c) FAIL(c.error().message);
    impl_->client = std::move(c).value();
}

SyncHttpsClient::~SyncHttpsClient() {
    impl_->client.reset();  // pooled connections close before their io_context goes
}

Result<net::Response> SyncHttpsClient::call(net::Request request) {
    std::optional<Result<net::Response>> out;
    std::exception_ptr failure;
    auto on_done = [&failure](std::exception_ptr e) { failure = e; };
    net::asio::co_spawn(impl_->io, call_once(impl_->client.get(), std::move(request), &out),
                        on_done);
    impl_->io.restart();
    impl_->io.run();
    if (failure) std::rethrow_exception(failure);
    REQUIRE(out.has_value());
    return std::move(*out);
}

std::size_t SyncHttpsClient::idle_connections() const {
    return impl_->client->idle_connections();
}

}  // namespace lrsched::test
