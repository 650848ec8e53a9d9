// The seam between lrsched-sim's API model (pure: requests in, responses out,
// time passed in) and its HTTPS transport (Beast + OpenSSL). The model never
// sees a socket; the transport never knows what an action is. Faults that
// only a transport can enact (a reset, a delay, a cut body) are asked for in
// the response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrsched::sim {

struct HttpRequest {
    std::string method;  // "GET", "POST", "DELETE"
    std::string target;  // raw request target: path plus optional "?query", percent-encoded
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;

    // The first header named `name` (lower case), or empty.
    std::string_view header(std::string_view name) const {
        for (const auto& [k, v] : headers)
            if (k == name) return v;
        return {};
    }
};

// A response body produced piece by piece, so a download of hundreds of MB
// costs the simulator a buffer, not the whole body.
class BodySource {
  public:
    virtual ~BodySource() = default;
    virtual std::uint64_t size() const = 0;  // exact Content-Length
    // Fills up to n bytes into buf; returns how many (0 only at the end).
    virtual std::size_t read(char* buf, std::size_t n) = 0;
};

enum class Fault {
    none,
    reset_before_reply,  // close the connection (TCP RST) without answering
    truncate_body,       // send headers and `truncate_at` bytes of the body, then reset
};

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is the transport's
    std::string body;                                          // used when `stream` is null
    std::unique_ptr<BodySource> stream;
    Fault fault = Fault::none;
    std::uint64_t truncate_at = 0;  // with Fault::truncate_body
    double delay_seconds = 0;       // wait this long before answering (slow answers)
};

// What the transport calls for every request. Single-threaded: the
// transport calls it from its one io thread only.
class Handler {
  public:
    virtual ~Handler() = default;
    // `now` is seconds since the simulator started (steady clock); every
    // behaviour in time derives from it, so a test of the model can pass any.
    virtual HttpResponse handle(const HttpRequest& request, double now) = 0;
};

}  // namespace lrsched::sim
