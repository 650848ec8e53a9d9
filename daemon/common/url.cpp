// parse_https_url: the only URL syntax lrsched accepts for outgoing calls,
// https://host[:port]/path?query. Plain code, no Asio: cheap to compile and
// to test. Expected load: once per call. Declared in common/url.hpp.
#include "common/url.hpp"

#include "common/diagnostic.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <charconv>

namespace lrsched {

std::string url_for_display(std::string_view url) {
    url = url.substr(0, url.find_first_of("?#"));
    const auto scheme_end = url.find("://");
    const std::size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const std::size_t authority_end = std::min(url.find('/', authority_start), url.size());
    const auto at = url.substr(0, authority_end).rfind('@');
    if (at == std::string_view::npos || at < authority_start) return std::string(url);
    return std::string(url.substr(0, authority_start)) + std::string(url.substr(at + 1));
}

Result<Url> parse_https_url(std::string_view url) {
    auto bad = [&](const std::string& why) {
        // Query and user information are left out: they may carry a secret.
        return Error(Errc::invalid_input,
                     "bad URL " + quote_value(url_for_display(url)) + ": " + why);
    };
    if (has_control_chars(url, false) || url.find(' ') != std::string_view::npos)
        return bad("control characters or spaces");
    constexpr std::string_view kScheme = "https://";
    if (url.size() < kScheme.size() || to_lower(url.substr(0, kScheme.size())) != kScheme)
        return bad("only https:// is allowed");
    std::string_view rest = url.substr(kScheme.size());
    if (const auto hash = rest.find('#'); hash != std::string_view::npos)
        rest = rest.substr(0, hash);
    const auto authority_end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view target =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) return bad("user information not allowed");

    Url out;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
        out.host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("garbage after the IPv6 literal");
            port_text = after.substr(1);
            if (port_text.empty()) return bad("empty port");
        }
    } else {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return bad("empty port");
        }
    }
    if (out.host.empty()) return bad("no host");
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto* end = port_text.data() + port_text.size();
        const auto [p, ec] = std::from_chars(port_text.data(), end, port);
        if (ec != std::errc{} || p != end || port == 0 || port > 65535) return bad("bad port");
        out.port = static_cast<std::uint16_t>(port);
    }
    out.target = target.empty() ? "/" : std::string(target);
    if (out.target.front() == '?') out.target.insert(0, "/");
    return out;
}

}  // namespace lrsched
