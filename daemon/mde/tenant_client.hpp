// One tenant's client, built in one place for the daemon and for the
// commands that call the API (`lrsched plan`): the credential (from
// $CREDENTIALS_DIRECTORY when systemd hands it over), an HTTPS client that
// verifies against the tenant's CA, the token provider, and the API client
// with its read windows restored from the store, so that every process
// shares one read budget. Expected load: once per tenant at start-up.
#pragma once

#include "api/library.hpp"
#include "api/mde.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "store/store.hpp"

#include <memory>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace lrsched::net {
class HttpsClient;
}  // namespace lrsched::net

namespace lrsched::mde {

class ApiClient;
class TokenProvider;

struct TenantClient {
    TenantClient();
    TenantClient(TenantClient&&) noexcept;
    TenantClient& operator=(TenantClient&&) noexcept;
    ~TenantClient();
    // Declared in this order so that they go in the reverse one: the API
    // client uses the tokens, both use the HTTPS client.
    std::unique_ptr<net::HttpsClient> http;
    std::unique_ptr<TokenProvider> tokens;
    std::unique_ptr<ApiClient> api;
};

// `io` and `store` must outlive the client.
Result<TenantClient> make_tenant_client(boost::asio::io_context& io,
                                        const config::Tenant& tenant,
                                        store::Store& store,
                                        Millis now);

// The same client for a one-shot command: its own io_context, each call run
// to completion before it returns. Not for the daemon (it would block it).
class BlockingClient {
  public:
    static Result<std::unique_ptr<BlockingClient>> open(const config::Tenant& tenant,
                                                        store::Store& store);
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    Result<std::vector<api::Machine>> list_machines();
    Result<std::vector<api::LibraryFile>> list_library();

  private:
    BlockingClient();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lrsched::mde
