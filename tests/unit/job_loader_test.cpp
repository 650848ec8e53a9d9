// The load path the daemon and `lrsched validate` share (jobs/job_loader.hpp):
// parse, validate, freeze to the stored definition, hash what was parsed.
#include "jobs/job_loader.hpp"

#include "common/sha256.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using lrsched::Diagnostics;
using lrsched::jobs::freeze_job;
using lrsched::jobs::Job;
using lrsched::jobs::load_job_text;

TEST_CASE("a job that JSON cannot hold is a diagnostic of its file, not an exception") {
    Job job;
    job.name = "j";
    job.source_path = "/jobs/j.yaml";
    job.comment = "caf\xe9";  // what load_yaml refuses; freeze_job must not rely on it
    Diagnostics diags;
    std::optional<std::string> frozen;
    CHECK_NOTHROW(frozen = freeze_job(job, diags));
    CHECK_FALSE(frozen.has_value());
    REQUIRE(diags.error_count() == 1);
    CHECK(diags.all()[0].to_string().rfind("/jobs/j.yaml:1:1: the job cannot be stored as JSON",
                                           0) == 0);
}

TEST_CASE("a loaded job carries its stored definition and the hash of its text") {
    const std::string text =
        "targets: {tags: [a]}\ncommands: [{GetFile: x}]\ncomment: \"caf\xc3\xa9\"\n";
    Diagnostics diags;
    const auto lj = load_job_text(text, "/jobs/j.yaml", {}, diags);
    REQUIRE(lj.has_value());
    CHECK(lj->sha256 == lrsched::sha256_hex(text));
    CHECK(lj->definition == lrsched::jobs::to_json(lj->job).dump());
    CHECK(nlohmann::json::parse(lj->definition)["comment"] == "caf\xc3\xa9");
}

TEST_CASE("text that is not UTF-8 is refused at its first bad byte, whatever the encoding") {
    struct Case {
        const char* what;
        std::string text;
        int line, col;
    };
    const std::string head = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n";
    const Case cases[] = {
        {"Latin-1", head + "comment: caf\xe9\n", 3, 13},
        {"overlong slash", head + "comment: \xc0\xaf\n", 3, 10},
        {"UTF-16 surrogate", head + "comment: \xed\xa0\x80\n", 3, 10},
        {"above U+10FFFF", head + "comment: \xf4\x90\x80\x80\n", 3, 10},
        {"cut short at the end", head + "comment: \xe2\x82", 3, 10},
        {"stray continuation", "\x80" + head, 1, 1},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        Diagnostics diags;
        CHECK_FALSE(load_job_text(c.text, "j.yaml", {}, diags).has_value());
        REQUIRE(diags.error_count() == 1);
        CHECK(diags.all()[0].where.line == c.line);
        CHECK(diags.all()[0].where.col == c.col);
        CHECK(diags.all()[0].message.find("not UTF-8") != std::string::npos);
    }
}
