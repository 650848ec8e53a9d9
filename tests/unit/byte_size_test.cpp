#include "common/byte_size.hpp"

#include <doctest/doctest.h>

using lrsched::format_byte_size;
using lrsched::parse_byte_size;

TEST_CASE("sizes parse in decimal and binary units") {
    CHECK(parse_byte_size("0B") == 0u);
    CHECK(parse_byte_size("1500B") == 1500u);
    CHECK(parse_byte_size("20MB") == 20'000'000u);
    CHECK(parse_byte_size("4GB") == 4'000'000'000u);
    CHECK(parse_byte_size("3TB") == 3'000'000'000'000u);
    CHECK(parse_byte_size("64KiB") == 65'536u);
    CHECK(parse_byte_size("100MiB") == 104'857'600u);
    CHECK(parse_byte_size("4GiB") == 4'294'967'296u);
    CHECK(parse_byte_size("1TiB") == 1'099'511'627'776u);
}

TEST_CASE("malformed or overflowing sizes are refused") {
    for (const char* bad :
         {"", "GB", "4", "-4GB", "4.5GB", "4 GB", "4gb", "4Gb", "4G", "4GiB ", " 4GB", "4GBB",
          "4kB", "9223372036854775808B", "9300000TB", "99999999999999999999999B", "8388608TiB"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_byte_size(bad).has_value());
    }
}

TEST_CASE("sizes format for messages in the unit that reads best") {
    CHECK(format_byte_size(4'000'000'000) == "4 GB");
    CHECK(format_byte_size(4'294'967'296) == "4 GiB");
    CHECK(format_byte_size(20'000'000) == "20 MB");
    CHECK(format_byte_size(1536) == "1.5 KB");
    CHECK(format_byte_size(5'368'709'121) == "5.4 GB");
    CHECK(format_byte_size(999) == "999 bytes");
    CHECK(format_byte_size(0) == "0 bytes");
}
