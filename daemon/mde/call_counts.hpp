// CallCounts: what one tenant's calls to the API came to since start-up, for
// the metrics (issue 13, item 5): calls by endpoint and answer, and 429s by
// the limit they hit. The client (api_client.cpp, token_provider.cpp)
// counts each exchange where it ends; the runtime copies the counts into the
// read model (view/live.hpp). Pure: no Asio. Load: one increment per call,
// a few a minute; at most 10 endpoints x a handful of codes held.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace lrsched::mde {

// The API's endpoints as the metrics name them: a fixed set, so that a
// label never takes a value from a URL.
enum class Endpoint : std::uint8_t {
    token,
    machines,
    runliveresponse,
    machineactions,
    machineaction,
    getliveresponseresultdownloadlink,
    download,
    cancel,
    library_list,
    library_upload,
};
inline constexpr std::array kEndpoints{
    Endpoint::token,          Endpoint::machines,      Endpoint::runliveresponse,
    Endpoint::machineactions, Endpoint::machineaction, Endpoint::getliveresponseresultdownloadlink,
    Endpoint::download,       Endpoint::cancel,        Endpoint::library_list,
    Endpoint::library_upload,
};
std::string_view to_string(Endpoint e) noexcept;

// Which limit a 429 from `e` hit: runliveresponse is counted in the submit
// window, every other /api call in the read windows (SPEC §1); the token
// endpoint and downloads (storage, not the API) have no limit of ours, so a
// 429 there is "other". The server does not say more: a 429 for the
// concurrency cap on runliveresponse counts as submit_window too.
std::string_view throttle_cause(Endpoint e) noexcept;

class CallCounts {
  public:
    // An HTTP answer with `status`.
    void answered(Endpoint e, int status);
    // No answer: a network, TLS or timeout error.
    void no_answer(Endpoint e);

    // endpoint name -> code ("200", "429", "error") -> calls.
    const std::map<std::string, std::map<std::string, std::uint64_t>>& calls() const noexcept {
        return calls_;
    }
    // cause (throttle_cause) -> 429s.
    const std::map<std::string, std::uint64_t>& throttled() const noexcept { return throttled_; }

  private:
    std::map<std::string, std::map<std::string, std::uint64_t>> calls_;
    std::map<std::string, std::uint64_t> throttled_;
};

}  // namespace lrsched::mde
