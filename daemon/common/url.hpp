// The https URL syntax lrsched accepts for outgoing calls (the MDE API, the
// token endpoint, on_finish webhooks): https://host[:port]/path?query. Pure,
// in common/ so that job validation (jobs/) can check a webhook with the same
// parser the HTTPS client (net/) uses. Expected load: once per call or job load.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace lrsched {

// Parsed https URL. `port` is 443 when the URL names none.
struct Url {
    std::string host;  // a name, an IPv4 literal, or an IPv6 literal without brackets
    std::uint16_t port = 443;
    std::string target;  // path and query, at least "/"
};
// Refuses user information (user:pw@), other schemes, no host, a bad port,
// control characters. The error message never holds the query string.
Result<Url> parse_https_url(std::string_view url);

// The URL as it may be logged or shown: scheme, host, port and path. The
// query and fragment are dropped (a query may carry a token: Slack and Teams
// webhooks, SAS signatures), and so is user information (user:password@).
std::string url_for_display(std::string_view url);

}  // namespace lrsched
