// LongStringFilter (api/long_strings.hpp, issue 10 C12): over-long string
// literals leave a streamed JSON text, whatever the chunking; everything
// else comes out byte for byte.
#include "api/long_strings.hpp"

#include "api/mde.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using lrsched::api::LongStringFilter;

namespace {

// The text through a filter of `max` bytes, fed `step` bytes at a time.
std::string filtered(const std::string& text, std::size_t max, std::size_t step) {
    LongStringFilter f(max);
    std::string out;
    for (std::size_t at = 0; at < text.size(); at += step)
        f.feed(std::string_view(text).substr(at, step), out);
    f.finish(out);
    return out;
}

}  // namespace

TEST_CASE("long strings: a text without long strings comes out unchanged, however it is cut") {
    const std::string text =
        R"({"value": [{"id":"ab", "s":"q\"uote\\", "t":["x\u0041y", "", "\\\""]}, 1, true, null]})";
    for (const std::size_t step : {1, 2, 3, 7, 1000}) {
        CAPTURE(step);
        CHECK(filtered(text, 10, step) == text);
    }
}

TEST_CASE("long strings: a long value becomes null, a long key an empty key") {
    const std::string name(100, 'n');
    const std::string text = "{\"value\":[{\"id\":\"ab\",\"computerDnsName\":\"" + name + "\" ,\"" +
                             std::string(50, 'k') + "\" : 5,\"tags\":[\"" + name + "\",\"t\"]}]}";
    for (const std::size_t step : {1, 5, 4096}) {
        CAPTURE(step);
        LongStringFilter f(20);
        std::string out;
        for (std::size_t at = 0; at < text.size(); at += step)
            f.feed(std::string_view(text).substr(at, step), out);
        f.finish(out);
        CHECK(out == R"({"value":[{"id":"ab","computerDnsName":null,"": 5,"tags":[null,"t"]}]})");
        CHECK(f.replaced() == 3);
        CHECK_FALSE(nlohmann::json::parse(out, nullptr, false).is_discarded());
    }
    // Exactly at the cap stays; one byte more goes. Escapes count as sent.
    CHECK(filtered("[\"" + std::string(20, 'a') + "\"]", 20, 3) ==
          "[\"" + std::string(20, 'a') + "\"]");
    CHECK(filtered("[\"" + std::string(21, 'a') + "\"]", 20, 3) == "[null]");
    CHECK(filtered(R"(["\u0041\u0041\u0041\u0041"])", 20, 1) == "[null]");
    CHECK(filtered(R"(["\"\"\"\"\"\"\"\"\"\"\"\""])", 20, 1) == "[null]");
    // A top-level string, and one never closed (invalid stays invalid).
    CHECK(filtered("\"" + std::string(30, 'x') + "\"", 20, 4) == "null");
    CHECK(nlohmann::json::parse(filtered("[\"" + std::string(30, 'x'), 20, 4), nullptr, false)
              .is_discarded());
}

TEST_CASE("long strings: nothing the machine list parser would keep is ever dropped") {
    using lrsched::api::kMaxListedString;
    using lrsched::api::kMaxRawListedString;
    // The longest string the parser keeps, written with the most bytes per
    // byte JSON allows (\u0061 for 'a'), passes the filter.
    std::string escaped;
    for (std::size_t i = 0; i < kMaxListedString; ++i)
        escaped += "\\u0061";
    const std::string text = "[\"" + escaped + "\"]";
    CHECK(filtered(text, kMaxRawListedString, 100) == text);
    CHECK(nlohmann::json::parse(text)[0].get<std::string>().size() == kMaxListedString);
}
