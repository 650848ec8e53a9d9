#include "mde/tenant_client.hpp"

#include "mde/api_client.hpp"
#include "mde/token_provider.hpp"
#include "net/net.hpp"

#include <cstdlib>
#include <exception>
#include <optional>

namespace lrsched::mde {

TenantClient::TenantClient() = default;
TenantClient::TenantClient(TenantClient&&) noexcept = default;
TenantClient& TenantClient::operator=(TenantClient&&) noexcept = default;
TenantClient::~TenantClient() = default;

Result<TenantClient> make_tenant_client(boost::asio::io_context& io,
                                        const config::Tenant& tenant,
                                        store::Store& store,
                                        Millis now) {
    const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
    auto credential = config::read_credential(tenant, creds ? creds : "");
    if (!credential) return std::move(credential).error();
    auto http = net::HttpsClient::create(io, {tenant.ca_file, "lrsched/0.1"});
    if (!http) return std::move(http).error();
    TenantClient c;
    c.http = std::move(*http);
    // The call deadlines are TokenSettings' own (policy::kApiDeadlines): a
    // `{}` there would give net::Timeouts' defaults, a 120 s call.
    TokenSettings ts{tenant.name, tenant.login_base, tenant.tenant_id, tenant.client_id,
                     tenant.scope};
    c.tokens = std::make_unique<TokenProvider>(io, *c.http, ts, std::move(*credential));
    c.api = std::make_unique<ApiClient>(io, *c.http, *c.tokens, tenant, store);
    if (auto r = c.api->load(now); !r) return std::move(r).error();
    return c;
}

struct BlockingClient::Impl {
    net::asio::io_context io;
    TenantClient client;

    // Runs `call` to completion on the private io_context.
    template <class T, class Call>
    Result<T> run(Call call) {
        std::optional<Result<T>> out;
        net::asio::co_spawn(
            io, [&]() -> net::asio::awaitable<void> { out.emplace(co_await call(*client.api)); },
            [&](const std::exception_ptr& e) {
                if (e) out.emplace(Error{Errc::internal_error, "internal error"});
            });
        io.restart();
        io.run();
        if (!out) return Error{Errc::internal_error, "internal error"};
        return std::move(*out);
    }
};

BlockingClient::BlockingClient() : impl_(std::make_unique<Impl>()) {}
BlockingClient::~BlockingClient() = default;

Result<std::unique_ptr<BlockingClient>> BlockingClient::open(const config::Tenant& tenant,
                                                             store::Store& store) {
    std::unique_ptr<BlockingClient> b(new BlockingClient());
    auto c = make_tenant_client(b->impl_->io, tenant, store, unix_now());
    if (!c) return std::move(c).error();
    b->impl_->client = std::move(*c);
    return b;
}

Result<std::vector<api::Machine>> BlockingClient::list_machines() {
    return impl_->run<std::vector<api::Machine>>(
        [](ApiClient& api) { return api.list_machines(); });
}

Result<std::vector<api::LibraryFile>> BlockingClient::list_library() {
    return impl_->run<std::vector<api::LibraryFile>>(
        [](ApiClient& api) { return api.list_library(); });
}

}  // namespace lrsched::mde
