// base64url as JWTs use it: RFC 4648's test vectors, unpadded, and the
// inputs a decoder must refuse.
#include "common/base64url.hpp"

#include <doctest/doctest.h>

using namespace lrsched;

TEST_CASE("base64url: RFC 4648 vectors without padding, both ways") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        CHECK(base64url_encode(plain) == encoded);
        CHECK(base64url_decode(encoded) == std::optional<std::string>(plain));
    }
    const std::string bytes("\xfb\xff\xbf\x00", 4);
    CHECK(base64url_encode(bytes) == "-_-_AA");  // the URL-safe letters, not + and /
    CHECK(base64url_decode("-_-_AA") == bytes);
}

TEST_CASE("base64url: padding, the other alphabet, impossible lengths and stray bits refused") {
    CHECK_FALSE(base64url_decode("Zg=="));
    CHECK_FALSE(base64url_decode("+/+/"));
    CHECK_FALSE(base64url_decode("Zm9vY"));  // 4k+1 characters
    CHECK_FALSE(base64url_decode("Zh"));     // "f" has one encoding: Zg
    CHECK_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));
    CHECK_FALSE(base64url_decode("Zm9v\n"));
}
