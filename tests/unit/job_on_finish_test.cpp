// Job file keys `on_finish` and `evidence` (SPEC §2): every refusal with its
// file:line:col, the webhook's secrets kept out of messages, hostile values,
// and the round trip through the frozen definition that the run closer reads.
#include "jobs/job.hpp"
#include "jobs/job_parser.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

using lrsched::Diagnostics;
using lrsched::Severity;
using lrsched::jobs::parse_job;
using lrsched::test::TempDir;

namespace {

constexpr const char* kHead = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n";

struct BadKey {
    const char* what;
    std::string yaml;  // after kHead: line 3 is its first line
    int line;
    int col;
    const char* says;
};

const BadKey kBadKeys[] = {
    {"unknown key in on_finish", "on_finish:\n  comand: [/bin/true]\n", 4, 3,
     "unknown key \"comand\" in on_finish"},
    {"on_finish without command or webhook", "on_finish: {diff: true}\n", 3, 12,
     "on_finish: expected `command` (an argv list), `webhook`"},
    {"on_finish is a string", "on_finish: /bin/true\n", 3, 12, "on_finish: expected a mapping"},
    {"command is a string", "on_finish: {command: /bin/true}\n", 3, 22,
     "on_finish.command: expected a list"},
    {"command is empty", "on_finish: {command: []}\n", 3, 22,
     "on_finish.command: expected a non-empty list"},
    {"command item is a mapping", "on_finish:\n  command: [/bin/x, {a: b}]\n", 4, 21,
     "on_finish.command: list items must be strings"},
    {"relative program", "on_finish:\n  command: [notify-soc, --job]\n", 4, 13,
     "on_finish.command[0]: \"notify-soc\" is not an absolute path"},
    {"empty program", "on_finish:\n  command: ['', --job]\n", 4, 13,
     "on_finish.command[0]: \"\" is not an absolute path"},
    {"NUL in an argument", "on_finish:\n  command: [/bin/x, \"a\\0b\"]\n", 4, 21,
     "on_finish.command[1]: \"a\\x00b\": control characters"},
    {"newline in an argument", "on_finish:\n  command: [/bin/x, \"a\\nb\"]\n", 4, 21,
     "on_finish.command[1]: \"a\\nb\": control characters"},
    {"newline in the program", "on_finish:\n  command: [\"/bin/x\\n\"]\n", 4, 13,
     "on_finish.command[0]: \"/bin/x\\n\": control characters"},
    {"65 arguments",
     "on_finish:\n  command: [/bin/x" +
         [] {
             std::string s;
             for (int i = 0; i < 64; ++i)
                 s += ", a";
             return s;
         }() +
         "]\n",
     4, 12, "on_finish.command: more than 64 arguments"},
    {"an argument over 4 KiB", "on_finish:\n  command: [/bin/x, " + std::string(4097, 'a') + "]\n",
     4, 21, "on_finish.command[1]: longer than 4096 bytes (4097)"},
    {"webhook over http", "on_finish: {webhook: 'http://h.example/x'}\n", 3, 22,
     "on_finish.webhook: bad URL \"http://h.example/x\": only https:// is allowed"},
    {"webhook without host", "on_finish: {webhook: 'https:///x'}\n", 3, 22,
     "on_finish.webhook: bad URL \"https:///x\": no host"},
    {"webhook with user information", "on_finish: {webhook: 'https://u:pw@h.example/x'}\n", 3, 22,
     "on_finish.webhook: bad URL \"https://h.example/x\": user information not allowed"},
    {"webhook with a bad port", "on_finish: {webhook: 'https://h.example:99999/x'}\n", 3, 22,
     "bad port"},
    {"webhook is a list", "on_finish: {webhook: [a]}\n", 3, 22,
     "on_finish.webhook: expected a string"},
    {"diff is not a boolean", "on_finish: {command: [/bin/x], diff: maybe}\n", 3, 38,
     "on_finish.diff"},
    {"unknown key in evidence", "evidence: {keep: 3}\n", 3, 12, "unknown key \"keep\" in evidence"},
    {"evidence is a list", "evidence: [3]\n", 3, 11, "evidence: expected a mapping"},
    {"keep_runs 0", "evidence: {keep_runs: 0}\n", 3, 23,
     "evidence.keep_runs: expected a whole number from 1 to"},
    {"keep_runs negative", "evidence: {keep_runs: -4}\n", 3, 23,
     "evidence.keep_runs: expected a whole number from 1 to"},
    {"keep_runs not an integer", "evidence: {keep_runs: 2.5}\n", 3, 23,
     "evidence.keep_runs: expected a whole number from 1 to"},
    {"keep_for in words", "evidence: {keep_for: 30 days}\n", 3, 22,
     "evidence.keep_for: expected a duration"},
    {"keep_for zero", "evidence: {keep_for: 0d}\n", 3, 22,
     "evidence.keep_for: must be longer than 0"},
};

std::string first_error_of(const Diagnostics& d) {
    for (const auto& x : d.all())
        if (x.severity == Severity::error) return x.to_string();
    return "";
}

}  // namespace

TEST_CASE("each invalid on_finish or evidence key is refused at its line and column") {
    TempDir dir;
    const std::string path = (dir.path() / "job.yaml").string();
    for (const auto& c : kBadKeys) {
        CAPTURE(c.what);
        Diagnostics diags;
        const auto job = parse_job(std::string(kHead) + c.yaml, path, {}, diags);
        CHECK_FALSE(job.has_value());
        REQUIRE(diags.has_errors());
        const auto& d = *std::find_if(diags.all().begin(), diags.all().end(),
                                      [](const auto& x) { return x.severity == Severity::error; });
        CAPTURE(d.to_string());
        CHECK(d.where.file == path);
        CHECK(d.where.line == c.line);
        CHECK(d.where.col == c.col);
        CHECK(d.message.find(c.says) != std::string::npos);
    }
}

TEST_CASE("a webhook's query string and password never appear in a message") {
    TempDir dir;
    for (const char* url :
         {"http://hooks.example/services/T0?token=SECRET",
          "https://user:SECRET@hooks.example/x?a=SECRET", "ftp://SECRET@hooks.example/",
          "https://hooks.example:0/p?sig=SECRET", "https://user:SECRET@/p"}) {
        CAPTURE(url);
        Diagnostics diags;
        const auto job = parse_job(std::string(kHead) + "on_finish: {webhook: '" + url + "'}\n",
                                   (dir.path() / "j.yaml").string(), {}, diags);
        CHECK_FALSE(job.has_value());
        CHECK(diags.has_errors());
        CHECK(diags.to_string().find("SECRET") == std::string::npos);
    }
    CHECK(lrsched::jobs::webhook_display(
              "https://u:p@hooks.example.org:8443/services/T0/B0?token=abc#x") ==
          "https://hooks.example.org:8443/services/T0/B0");
    CHECK(lrsched::jobs::webhook_display("https://hooks.example.org/a@b?x=1") ==
          "https://hooks.example.org/a@b");
    CHECK(lrsched::jobs::webhook_display("") == "");
}

TEST_CASE("on_finish and evidence survive the frozen definition and read back equal") {
    TempDir dir;
    Diagnostics diags;
    const auto job = parse_job(std::string(kHead) +
                                   "on_finish:\n"
                                   "  command: [/usr/local/bin/notify-soc, --job, 'a b', '']\n"
                                   "  webhook: https://hooks.example.org/lrsched?token=t0k\n"
                                   "  diff: true\n"
                                   "evidence:\n  keep_runs: 30\n  keep_for: 30d\n",
                               (dir.path() / "j.yaml").string(), {}, diags);
    CAPTURE(diags.to_string());
    REQUIRE(job.has_value());
    REQUIRE(job->on_finish.has_value());
    CHECK(job->on_finish->command ==
          std::vector<std::string>{"/usr/local/bin/notify-soc", "--job", "a b", ""});
    CHECK(job->on_finish->webhook == "https://hooks.example.org/lrsched?token=t0k");
    CHECK(job->on_finish->diff);
    CHECK(job->evidence.keep_runs == 30);
    CHECK(job->evidence.keep_for == std::chrono::hours(24 * 30));

    // Through the text the store keeps, as the closer reads it.
    const auto frozen = nlohmann::json::parse(lrsched::jobs::to_json(*job).dump());
    const auto f = lrsched::jobs::on_finish_of(frozen);
    REQUIRE(f.ok());
    REQUIRE(f->has_value());
    CHECK(**f == *job->on_finish);
    const auto k = lrsched::jobs::evidence_keep_of(frozen);
    REQUIRE(k.ok());
    CHECK(*k == job->evidence);
}

TEST_CASE("without the keys: no hook, keep everything, and webhook alone and command alone") {
    TempDir dir;
    const std::string path = (dir.path() / "j.yaml").string();
    Diagnostics diags;
    const auto plain = parse_job(kHead, path, {}, diags);
    REQUIRE(plain.has_value());
    CHECK_FALSE(plain->on_finish.has_value());
    CHECK(plain->evidence.keeps_all());
    const auto frozen = lrsched::jobs::to_json(*plain);
    CHECK(frozen.at("on_finish").is_null());
    REQUIRE(lrsched::jobs::on_finish_of(frozen).ok());
    CHECK_FALSE(lrsched::jobs::on_finish_of(frozen)->has_value());
    CHECK(lrsched::jobs::evidence_keep_of(frozen)->keeps_all());

    // A definition frozen before these keys existed.
    auto old = frozen;
    old.erase("on_finish");
    old.erase("evidence");
    CHECK_FALSE(lrsched::jobs::on_finish_of(old)->has_value());
    CHECK(lrsched::jobs::evidence_keep_of(old)->keeps_all());

    const auto hook = parse_job(std::string(kHead) +
                                    "on_finish: {webhook: 'https://h.example'}\n"
                                    "evidence: {keep_runs: 1}\n",
                                path, {}, diags);
    REQUIRE(hook.has_value());
    CHECK(hook->on_finish->command.empty());
    CHECK_FALSE(hook->on_finish->diff);
    CHECK(hook->evidence.keep_runs == 1);
    CHECK_FALSE(hook->evidence.keep_for.has_value());
    const auto cmd =
        parse_job(std::string(kHead) + "on_finish: {command: [/bin/true]}\n", path, {}, diags);
    REQUIRE(cmd.has_value());
    CHECK(cmd->on_finish->webhook.empty());
    const auto back = lrsched::jobs::on_finish_of(lrsched::jobs::to_json(*cmd));
    CHECK((*back)->command == std::vector<std::string>{"/bin/true"});
}

TEST_CASE("a malformed frozen on_finish or evidence is an error that holds no URL") {
    using nlohmann::json;
    const json bad_type = {
        {"on_finish", {{"webhook", "https://h/?token=SECRET"}, {"diff", "yes"}}}};
    const auto f = lrsched::jobs::on_finish_of(bad_type);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().message.find("SECRET") == std::string::npos);
    CHECK_FALSE(lrsched::jobs::on_finish_of(json{{"on_finish", json::object()}}).ok());
    CHECK_FALSE(lrsched::jobs::evidence_keep_of(json{{"evidence", {{"keep_runs", 0}}}}).ok());
    CHECK_FALSE(lrsched::jobs::evidence_keep_of(json{{"evidence", {{"keep_for_ms", "1d"}}}}).ok());
    CHECK_FALSE(lrsched::jobs::evidence_keep_of(json{{"evidence", 3}}).ok());
}

TEST_CASE("hostile on_finish values are refused quickly and with one message") {
    TempDir dir;
    const std::string path = (dir.path() / "j.yaml").string();
    SUBCASE("a list of 40,000 arguments") {
        std::string y = std::string(kHead) + "on_finish:\n  command: [/bin/x";
        for (int i = 0; i < 40'000; ++i)
            y += ",a";
        y += "]\n";
        Diagnostics diags;
        CHECK_FALSE(parse_job(y, path, {}, diags).has_value());
        CHECK(diags.error_count() == 1);
        CHECK(first_error_of(diags).find("more than 64 arguments") != std::string::npos);
    }
    SUBCASE("a 1 MB argument") {
        // Under the job file's 1 MiB cap, so it reaches the argument check.
        const std::string y = std::string(kHead) + "on_finish:\n  command: [/bin/x, " +
                              std::string(1'000'000, 'a') + "]\n";
        Diagnostics diags;
        CHECK_FALSE(parse_job(y, path, {}, diags).has_value());
        CHECK(diags.error_count() == 1);
        CHECK(first_error_of(diags).find("longer than 4096 bytes (1000000)") != std::string::npos);
        CHECK(first_error_of(diags).size() < 1000);
    }
    SUBCASE("NULs everywhere in a webhook") {
        const std::string y =
            std::string(kHead) + "on_finish: {webhook: \"https://h\\0\\0/\\0\"}\n";
        Diagnostics diags;
        CHECK_FALSE(parse_job(y, path, {}, diags).has_value());
        CHECK(first_error_of(diags).find("control characters") != std::string::npos);
    }
}
