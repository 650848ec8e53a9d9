// Hostile input for the YAML loader and the job parser: each must be refused
// quickly with a message naming the cap it crossed, never expanded.
#include "common/yaml_reader.hpp"
#include "jobs/job_loader.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <string>

using lrsched::Diagnostics;
using lrsched::load_yaml;
using lrsched::YamlLimits;

namespace {

// The classic: nine levels of ten aliases each, 10^9 nodes once expanded.
std::string billion_laughs() {
    std::string y =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'i'; ++c) {
        y += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 9; ++i)
            y += std::string(i ? "," : "") + "*" + prev;
        y += "]\n";
        prev = c;
    }
    return y;
}

}  // namespace

TEST_CASE("a billion-laughs file is refused by the node cap, naming it") {
    Diagnostics diags;
    CHECK_FALSE(load_yaml(billion_laughs(), "lol.yaml", YamlLimits{}, diags).has_value());
    REQUIRE(diags.error_count() == 1);
    CHECK(diags.all()[0].message.find("node cap") != std::string::npos);
    CHECK(diags.all()[0].where.line > 1);  // stopped part-way, where the expansion crossed the cap
}

TEST_CASE("a doubling chain of 64 aliases cannot overflow the node count") {
    std::string y = "a0: &a0 [x, x]\n";
    for (int i = 1; i < 64; ++i)
        y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
             ", *a" + std::to_string(i - 1) + "]\n";
    Diagnostics diags;
    CHECK_FALSE(load_yaml(y, "double.yaml", YamlLimits{}, diags).has_value());
    CHECK(diags.to_string().find("node cap") != std::string::npos);
}

TEST_CASE("aliases within the cap are accepted and expand normally") {
    Diagnostics diags;
    auto root = load_yaml("base: &b [x, y]\ncopy: *b\n", "ok.yaml", YamlLimits{}, diags);
    REQUIRE(root.has_value());
    CHECK((*root)["copy"].size() == 2);
}

TEST_CASE("deep nesting is refused by the depth cap before yaml-cpp recurses") {
    for (const bool flow : {true, false}) {
        CAPTURE(flow);
        std::string y;
        if (flow)
            y = std::string(10'000, '[') + std::string(10'000, ']');
        else
            for (int i = 0; i < 100; ++i)
                y += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k:\n";
        Diagnostics diags;
        CHECK_FALSE(load_yaml(y, "deep.yaml", YamlLimits{}, diags).has_value());
        CHECK(diags.to_string().find("depth cap") != std::string::npos);
    }
}

TEST_CASE("a file over the size cap is refused without parsing") {
    lrsched::test::TempDir dir;
    const auto big = dir.write("big.yaml", "a: " + std::string(2 << 20, 'x') + "\n");
    Diagnostics diags;
    CHECK_FALSE(lrsched::jobs::load_job(big.string(), {}, diags).has_value());
    CHECK(diags.to_string().find("over the size cap of 1048576 bytes") != std::string::npos);
}

TEST_CASE("a million keys are refused by the node cap") {
    std::string y;
    y.reserve(12'000'000);
    for (int i = 0; i < 1'000'000; ++i)
        y += "k" + std::to_string(i) + ": 1\n";
    Diagnostics diags;
    CHECK_FALSE(load_yaml(y, "wide.yaml", YamlLimits{16u << 20, 32, 200'000}, diags).has_value());
    CHECK(diags.to_string().find("node cap") != std::string::npos);
}

TEST_CASE("a recursive alias is refused") {
    Diagnostics diags;
    CHECK_FALSE(load_yaml("a: &a [*a]\n", "rec.yaml", YamlLimits{}, diags).has_value());
    CHECK(diags.has_errors());
}

TEST_CASE("one long string aliased again and again is refused by the expansion cap") {
    // Within the size and node caps (about 1 MiB, 170,000 nodes), but the walk
    // would copy 512 KiB 170,000 times: 87 GB.
    std::string y = "a: &s \"" + std::string(512u << 10, 'x') + "\"\nb: [*s";
    for (int i = 1; i < 170'000; ++i)
        y += ",*s";
    y += "]\n";
    REQUIRE(y.size() <= lrsched::jobs::kJobYamlLimits.max_bytes);
    Diagnostics diags;
    CHECK_FALSE(lrsched::jobs::load_job_text(y, "big.yaml", {}, diags).has_value());
    REQUIRE(diags.error_count() == 1);
    CAPTURE(diags.to_string());
    // The seventh alias brings the text past 4 MiB (eight copies, plus keys).
    CHECK(diags.all()[0].to_string().rfind("big.yaml:2:23: ", 0) == 0);
    CHECK(diags.all()[0].message.find("expansion cap") != std::string::npos);
}

TEST_CASE("an unclosed flow collection a MiB deep is refused at the depth cap") {
    for (const char open : {'[', '{'}) {
        CAPTURE(open);
        Diagnostics diags;
        CHECK_FALSE(load_yaml(std::string((1u << 20) - 1, open), "open.yaml",
                              lrsched::jobs::kJobYamlLimits, diags)
                        .has_value());
        REQUIRE(diags.error_count() == 1);
        CHECK(diags.all()[0].to_string().rfind("open.yaml:1:33: ", 0) == 0);
        CHECK(diags.all()[0].message.find("depth cap") != std::string::npos);
    }
}

TEST_CASE("a flow list that could still be a mapping key is refused past the lookahead cap") {
    // yaml-cpp scans all of it before it hands out one event: every token of
    // it is held in memory at once (about 200 bytes each).
    struct Lead {
        const char* text;
        int line, col;  // of the '['
    };
    for (const Lead lead : {Lead{"- ", 1, 3}, Lead{"", 1, 1}, Lead{"x:\n  ", 2, 3}}) {
        CAPTURE(lead.text);
        std::string y = std::string(lead.text) + "[";
        for (int i = 0; i < 40'000; ++i)
            y += "a,";
        y += "a]\n";
        Diagnostics diags;
        CHECK_FALSE(load_yaml(y, "flow.yaml", lrsched::jobs::kJobYamlLimits, diags).has_value());
        REQUIRE(diags.error_count() == 1);
        const auto& d = diags.all()[0];
        CHECK(d.where.line == lead.line);
        CHECK(d.where.col == lead.col);
        CHECK(d.message.find("lookahead cap") != std::string::npos);
    }
    // The same list as a mapping's value streams and is within every cap.
    std::string y = "x: [";
    for (int i = 0; i < 40'000; ++i)
        y += "a,";
    y += "a]\n";
    Diagnostics diags;
    CHECK(load_yaml(y, "flow.yaml", lrsched::jobs::kJobYamlLimits, diags).has_value());
}

TEST_CASE("long text is not taken for many tokens: words on a line are one scalar") {
    std::string words;
    for (int i = 0; i < 100'000; ++i)
        words += "w ";
    const std::string y =
        "targets: {tags: [a]}\ncommands: [{GetFile: x}]\ncomment: " + words + "\n";
    Diagnostics diags;
    CHECK(lrsched::jobs::load_job_text(y, "words.yaml", {}, diags).has_value());
    CHECK(diags.to_string() == "");
}
