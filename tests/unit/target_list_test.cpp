#include "jobs/job_loader.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using lrsched::Diagnostics;
using lrsched::jobs::parse_target_list;

TEST_CASE("a target list holds ids and host names, with comments and blank lines") {
    Diagnostics diags;
    auto list = parse_target_list(
        "# header\n\n  1E5BC9D7E413DDD7902C2932E418702B84D0CC07 \r\nws-01.contoso.local # "
        "laptop\n\t\n",
        "t.txt", diags);
    REQUIRE(list.has_value());
    CHECK(list->machines == std::vector<std::string>{"1e5bc9d7e413ddd7902c2932e418702b84d0cc07"});
    CHECK(list->hostnames == std::vector<std::string>{"ws-01.contoso.local"});
    CHECK_FALSE(diags.has_errors());
}

TEST_CASE("bad lines of a target list are reported with their line numbers") {
    Diagnostics diags;
    auto list =
        parse_target_list("ok.example\n  bad name here\nfine.example\n<script>\n", "t.txt", diags);
    CHECK_FALSE(list.has_value());
    REQUIRE(diags.error_count() == 2);
    CHECK(diags.all()[0].to_string().rfind("t.txt:2:3: \"bad name here\" is neither", 0) == 0);
    CHECK(diags.all()[1].to_string().rfind("t.txt:4:1: ", 0) == 0);
}

TEST_CASE("a from_file list reports its own bad lines through the job") {
    lrsched::test::TempDir dir;
    dir.write("jobs/t.txt", "good.example\n../../etc/passwd\n");
    const auto job =
        dir.write("jobs/j.yaml", "targets: {from_file: t.txt}\ncommands: [{GetFile: x}]\n");
    Diagnostics diags;
    CHECK_FALSE(lrsched::jobs::load_job(job.string(), {(dir.path() / "jobs").string(), {}}, diags)
                    .has_value());
    CHECK(diags.to_string().find("t.txt:2:1: \"../../etc/passwd\" is neither") !=
          std::string::npos);
}

TEST_CASE("a from_file that is a symlink out of the jobs directory is refused") {
    lrsched::test::TempDir dir;
    const auto secret = dir.write("outside/hosts.txt", "a.example\n");
    std::filesystem::create_directories(dir.path() / "jobs");
    std::filesystem::create_symlink(secret, dir.path() / "jobs" / "link.txt");
    const auto job =
        dir.write("jobs/j.yaml", "targets: {from_file: link.txt}\ncommands: [{GetFile: x}]\n");
    Diagnostics diags;
    CHECK_FALSE(lrsched::jobs::load_job(job.string(), {(dir.path() / "jobs").string(), {}}, diags)
                    .has_value());
    CHECK(diags.to_string().find("j.yaml:1:22: targets.from_file: \"link.txt\" resolves to") !=
          std::string::npos);
    CHECK(diags.to_string().find("outside the jobs directory") != std::string::npos);
}

TEST_CASE("a from_file list with no entries is an empty target set") {
    lrsched::test::TempDir dir;
    dir.write("jobs/t.txt", "# nothing yet\n");
    const auto job =
        dir.write("jobs/j.yaml", "targets: {from_file: t.txt}\ncommands: [{GetFile: x}]\n");
    Diagnostics diags;
    CHECK_FALSE(lrsched::jobs::load_job(job.string(), {(dir.path() / "jobs").string(), {}}, diags)
                    .has_value());
    CHECK(diags.to_string().find("empty target set: t.txt lists no machine") != std::string::npos);
}

TEST_CASE("a target list that is not UTF-8 is refused at its first bad byte") {
    Diagnostics diags;
    CHECK_FALSE(parse_target_list("a.example\nb\xe9.example\n", "t.txt", diags).has_value());
    REQUIRE(diags.error_count() == 1);
    CHECK(diags.all()[0].to_string().rfind("t.txt:2:2: text is not UTF-8", 0) == 0);
}

TEST_CASE("a target list saved with a byte order mark reads its first line") {
    Diagnostics diags;
    auto list = parse_target_list(
        "\xef\xbb\xbf"
        "a.example\n",
        "t.txt", diags);
    CAPTURE(diags.to_string());
    REQUIRE(list.has_value());
    CHECK(list->hostnames == std::vector<std::string>{"a.example"});
}
