#include "common/sha256.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

TEST_CASE("SHA-256 matches the FIPS 180-2 test vectors, in one piece or many") {
    CHECK(lrsched::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(lrsched::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    lrsched::Sha256 h;
    for (int i = 0; i < 1'000'000 / 1000; ++i)
        h.update(std::string(1000, 'a'));
    CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("a file is hashed by streaming it, and a missing one is an error naming it") {
    lrsched::test::TempDir dir;
    const auto p = dir.write("f.bin", "abc");
    auto r = lrsched::sha256_file(p.string());
    REQUIRE(r.ok());
    CHECK(*r == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auto missing = lrsched::sha256_file((dir.path() / "nope").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("nope") != std::string::npos);
}
