// A blocking wrapper around net::HttpsClient for tests: each call runs the
// client's coroutine on a private io_context until it completes. Keeps Asio
// out of the test files (one TU pays its compile time, not every test file).
#pragma once

#include "common/result.hpp"
#include "net/https_client.hpp"

#include <memory>

namespace lrsched::test {

class SyncHttpsClient {
  public:
    explicit SyncHttpsClient(const net::ClientOptions& options);
    ~SyncHttpsClient();
    SyncHttpsClient(const SyncHttpsClient&) = delete;
    SyncHttpsClient& operator=(const SyncHttpsClient&) = delete;

    Result<net::Response> call(net::Request request);
    std::size_t idle_connections() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lrsched::test
