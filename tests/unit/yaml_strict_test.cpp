// yaml-cpp 0.7 accepts some text that is not YAML and reads it as something
// the operator did not write (a quote never closed swallows the rest of the
// file; a line without ':' becomes a key). load_yaml refuses each of these
// where it starts; the same text written correctly still loads.
#include "common/yaml_reader.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::Diagnostics;
using lrsched::load_yaml;
using lrsched::YamlLimits;

namespace {

struct Lenient {
    const char* what;
    std::string yaml;
    int line, col;
    const char* says;
};

const Lenient kRefused[] = {
    {"double quote never closed", "commands:\n  - RunScript: \"a.ps1\n", 2, 16, "never closed"},
    {"single quote never closed", "commands:\n  - RunScript: 'a.ps1\n", 2, 16, "never closed"},
    {"quote closed by an escaped quote only", "a: 'it''s\n", 1, 4, "never closed"},
    {"double quote ending in an escape", "a: \"x\\\"\n", 1, 4, "never closed"},
    {"unclosed quote swallowing the lines after it", "a: \"x\nb: 1\nc: 2\n", 1, 4, "never closed"},
    {"anchored quote never closed", "a: &x \"abc\n", 1, 7, "never closed"},
    {"key without ':' at the end", "a: 1\nb\n", 2, 1, "without ':'"},
    {"key without ':' at the end of a nested mapping", "a:\n  b: 1\n  c\n", 3, 3, "without ':'"},
    {"empty entry in a flow list", "a: [x,,y]\n", 1, 7, "empty entry"},
    {"flow list starting with a comma", "a: [ , x]\n", 1, 6, "empty entry"},
    {"empty entry in a flow mapping", "a: {x: 1,, y: 2}\n", 1, 10, "empty entry"},
    {"directive without a document start", "%YAML 1.2\na: 1\n", 1, 1, "directive"},
    {"unknown directive", "%FOO bar\n---\na: 1\n", 1, 1, "directive"},
    {"directive after the content", "a: 1\n%YAML 1.2\n", 2, 1, "directive"},
    {"tag on a scalar", "priority: !!str 50\n", 1, 11, "tag"},
    {"local tag on a mapping", "a: !thing {b: 1}\n", 1, 4, "tag"},
    {"verbatim tag", "a: !<tag:x> y\n", 1, 4, "tag"},
    {"raw escape character", "a: x\x1b[2Jy\n", 1, 5, "control character"},
    {"raw DEL", "a: x\x7fy\n", 1, 5, "control character"},
    {"raw C1 control", "a: x\xc2\x9by\n", 1, 5, "control character"},
    {"non-character U+FFFF", "a: x\xef\xbf\xbfy\n", 1, 5, "control character"},
    {"carriage return alone as a line end", "a: x\rb: y\n", 1, 5, "carriage return"},
};

const char* const kAccepted[] = {
    "a: \"multi\n  line\"\n",
    "a: 'it''s'\n",
    "a: \"x\\\"y\"\n",
    "a: \"50\n%  of them\"\n",  // '%' inside a quoted scalar is text
    "a: &x \"y\"\nb: *x\n",
    "? a\n",                                           // an explicit key with no value
    "a:\n",                                            // an empty value
    "a: [x, y,]\n",                                    // a trailing comma
    "a: {x, y}\n",                                     // flow mapping keys without values
    "a: [x: 1, y]\n",                                  // a single-pair mapping in a flow list
    "a: ! x\n",                                        // the non-specific tag: a string
    "a: |\n  x\n  y\n",                                // a block scalar
    "a: x\r\nb: y\r\n",                                // CRLF line ends
    "a: x\tb\n",                                       // a tab inside a scalar
    "a: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n",  // UTF-8 beyond ASCII
    "a: x\xc2\x85y\n",                                 // NEL is printable in YAML 1.2
    "- a\n-\n- b\n",                                   // an empty list item
};

}  // namespace

TEST_CASE("text yaml-cpp would accept but is not YAML is refused where it starts") {
    for (const auto& c : kRefused) {
        const std::string what = c.what;
        CAPTURE(what);
        Diagnostics diags;
        CHECK_FALSE(load_yaml(c.yaml, "l.yaml", YamlLimits{}, diags).has_value());
        CAPTURE(diags.to_string());
        CHECK(diags.error_count() == 1);
        if (diags.error_count() != 1) continue;
        CHECK(diags.all()[0].where.line == c.line);
        CHECK(diags.all()[0].where.col == c.col);
        CHECK(diags.all()[0].message.find(c.says) != std::string::npos);
    }
}

TEST_CASE("the same constructs written correctly still load") {
    for (const char* text : kAccepted) {
        const std::string y = text;
        CAPTURE(y);
        Diagnostics diags;
        CHECK(load_yaml(y, "l.yaml", YamlLimits{}, diags).has_value());
        CHECK(diags.to_string() == "");
    }
}

TEST_CASE("a byte order mark is not part of the first line") {
    Diagnostics diags;
    CHECK_FALSE(load_yaml("\xef\xbb\xbf"
                          "a: \"x\n",
                          "bom.yaml", YamlLimits{}, diags)
                    .has_value());
    REQUIRE(diags.error_count() == 1);
    CHECK(diags.all()[0].where.col == 4);  // where an editor shows the quote
    Diagnostics ok;
    auto root = load_yaml(
        "\xef\xbb\xbf"
        "a: 1\n",
        "bom.yaml", YamlLimits{}, ok);
    REQUIRE(root.has_value());
    CHECK((*root)["a"].Scalar() == "1");
}
