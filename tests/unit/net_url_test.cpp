// parse_https_url: the only URLs the daemon's HTTPS client accepts.
#include "net/https_client.hpp"

#include <doctest/doctest.h>

using lrsched::Errc;
using lrsched::net::parse_https_url;

TEST_CASE("https url: host, port and target are split, the default port is 443") {
    auto a = parse_https_url("https://api.security.microsoft.com/api/machines?$top=10");
    REQUIRE(a);
    CHECK(a->host == "api.security.microsoft.com");
    CHECK(a->port == 443);
    CHECK(a->target == "/api/machines?$top=10");

    auto b = parse_https_url("HTTPS://127.0.0.1:8443");
    REQUIRE(b);
    CHECK(b->host == "127.0.0.1");
    CHECK(b->port == 8443);
    CHECK(b->target == "/");

    auto c = parse_https_url("https://[::1]:9000?x=1#frag");
    REQUIRE(c);
    CHECK(c->host == "::1");
    CHECK(c->port == 9000);
    CHECK(c->target == "/?x=1");
}

TEST_CASE("https url: anything but https with a sane authority is invalid input") {
    for (const char* bad :
         {"http://example.com/", "example.com", "https://", "https:///x", "https://host:0/",
          "https://host:65536/", "https://host:/", "https://host:12a/", "https://user:pw@host/",
          "https://[::1/", "https://ho st/", "https://host/\npath"}) {
        CAPTURE(bad);
        auto r = parse_https_url(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_input);
    }
}
