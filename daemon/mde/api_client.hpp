// ApiClient: the calls lrsched makes to one tenant's MDE API, with a bearer
// token and within the tenant's read budget (SPEC §1: 100 a minute and 1500
// an hour across machine listings, action listings, result links and
// cancels; the live response library's listing and uploads too). Every
// read is a durable row in api_calls, so the budget survives a restart.
// Expected load: a few reads a minute per tenant; one
// runliveresponse call at a time (the dispatcher sends them one by one).
//
// A 401 on a read gets one token refresh and one retry; a second one, or a
// 403, is returned as Errc::permission_denied for the caller to pause the
// tenant. A read answered 429 waits for Retry-After and tries again, at
// most three times. The token and the secret never appear in an error.
//
// Folder mde/: the API over the network (tokens, the read budget,
// reachability, make_tenant_client); includes api/, config/, limits/, net/,
// sessions/, store/, common/.
#pragma once

#include "api/library.hpp"
#include "api/mde.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "limits/rate_limiter.hpp"
#include "mde/call_counts.hpp"
#include "mde/reachability.hpp"
#include "mde/token_provider.hpp"
#include "net/https_client.hpp"
#include "store/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace lrsched::mde {

class ApiClient {
  public:
    // Everything given must outlive the client.
    ApiClient(boost::asio::io_context& io,
              net::HttpsClient& http,
              mde::TokenProvider& tokens,
              const config::Tenant& tenant,
              store::Store& store);
    ~ApiClient();
    ApiClient(const ApiClient&) = delete;
    ApiClient& operator=(const ApiClient&) = delete;

    // Restores the read windows from the store (calls of the last hour).
    Result<void> load(Millis now);

    // The fleet (the machines matching `filter`, an OData expression, when
    // given), paged with $top/$skip (never nextLink); 404 is "none".
    boost::asio::awaitable<Result<std::vector<api::Machine>>> list_machines(
        std::string filter = "");
    // Every action matching `filter` (an OData expression), paged.
    boost::asio::awaitable<Result<std::vector<api::MachineAction>>> list_actions(
        std::string filter);
    // POST machineactions/{id}/cancel; best effort, the answer only logged.
    boost::asio::awaitable<Result<void>> cancel(std::string action_id, std::string comment);
    // GetLiveResponseResultDownloadLink(index=N): the URL of a result (it
    // lives 30 minutes; ask again when it has expired).
    boost::asio::awaitable<Result<std::string>> result_link(std::string action_id, int index);
    // Downloads a result link into `sink` without the API's token (the link
    // is signed) and outside the read budget (it is storage, not the API).
    // Errc::permission_denied when the link has expired (403).
    boost::asio::awaitable<Result<std::uint64_t>> download(std::string url,
                                                           net::BodySink sink,
                                                           std::uint64_t cap);
    // GET /api/libraryfiles: the tenant's live response library (one read).
    boost::asio::awaitable<Result<std::vector<api::LibraryFile>>> list_library();
    // POST /api/libraryfiles with OverrideIfExists=true (one read call, the
    // docs give the library the same budget). Precondition:
    // api::is_library_name(name), content at most api::kMaxLibraryUpload.
    // An HTTP answer, even a refusal, is a value; errors are the network's
    // and Errc::permission_denied.
    boost::asio::awaitable<Result<api::UploadResult>> upload_library(std::string name,
                                                                     std::string content);
    // One runliveresponse call with `token`; never retried here.
    boost::asio::awaitable<api::SubmitAnswer> submit(std::string machine_id,
                                                     std::string body,
                                                     std::string token);

    std::uint64_t reads() const noexcept;  // read calls made, for metrics and tests
    // Every call's answer (reads, submits, downloads) and 429s by cause.
    const CallCounts& counts() const noexcept;
    // The read windows, for their use now (metrics).
    const limits::RateLimiter& read_limiter() const noexcept;

    // Whether the tenant's API answers at all (every call but downloads
    // counts); while it does not, callers wait until retry_at().
    const Reachability& reachability() const noexcept;
    // A token the dispatch loop could not get (other than refused
    // credentials) counts as no answer.
    void token_failed(const Error& e);

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace lrsched::mde
