#include "jobs/job_parser.hpp"

#include "jobs/job_loader.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

using lrsched::Diagnostics;
using lrsched::Severity;
using lrsched::jobs::CommandType;
using lrsched::jobs::JobContext;
using lrsched::jobs::parse_job;
using lrsched::test::TempDir;

namespace {

// One invalid job file: its text, where the error must be reported, and a
// fragment the message must contain.
struct BadJob {
    const char* what;
    const char* yaml;
    int line;
    int col;
    const char* says;
};

const BadJob kBadJobs[] = {
    {"unknown top-level key", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedul: {}\n", 3, 1,
     "unknown key \"schedul\" in job"},
    {"unknown key in targets", "targets:\n  tags: [a]\n  hosts: [b]\ncommands: [{GetFile: x}]\n", 3,
     3, "unknown key \"hosts\" in targets"},
    {"unknown key in exclude",
     "targets:\n  tags: [a]\n  exclude: {os: [Linux]}\ncommands: [{GetFile: x}]\n", 3, 13,
     "unknown key \"os\" in targets.exclude"},
    {"duplicate key", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\npriority: 1\npriority: 2\n",
     4, 1, "duplicate key \"priority\""},
    {"priority of the wrong type",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\npriority: high\n", 3, 11,
     "priority: expected a whole number from 0 to 100"},
    {"priority out of range", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\npriority: 101\n", 3,
     11, "priority: expected a whole number from 0 to 100"},
    {"targets is a list", "targets: [a, b]\ncommands: [{GetFile: x}]\n", 1, 10,
     "targets: expected a mapping"},
    {"empty target set", "targets: {}\ncommands: [{GetFile: x}]\n", 1, 10, "empty target set"},
    {"os alone selects nothing", "targets:\n  os: [Linux]\ncommands: [{GetFile: x}]\n", 2, 3,
     "`os` only narrows"},
    {"machine id too short",
     "targets:\n  machines: [1e5bc9d7e413ddd7902c2932e418702b84d0cc0]\ncommands: [{GetFile: x}]\n",
     2, 14, "is not a machine id"},
    {"machine id not hex",
     "targets:\n  machines:\n    - 1e5bc9d7e413ddd7902c2932e418702b84d0cc0g\ncommands: [{GetFile: "
     "x}]\n",
     3, 7, "is not a machine id"},
    {"bad host name",
     "targets:\n  hostnames: [ok.example, 'bad host!']\ncommands: [{GetFile: x}]\n", 2, 27,
     "is not a host name"},
    {"tags given as a scalar", "targets:\n  tags: tier0\ncommands: [{GetFile: x}]\n", 2, 9,
     "targets.tags: expected a list"},
    {"missing commands", "targets: {tags: [a]}\n", 1, 1, "missing required key `commands`"},
    {"missing targets", "commands: [{GetFile: x}]\n", 1, 1, "missing required key `targets`"},
    {"empty command list", "targets: {tags: [a]}\ncommands: []\n", 2, 11,
     "commands: expected a non-empty list"},
    {"unknown command", "targets: {tags: [a]}\ncommands:\n  - FindFile: x\n", 3, 5,
     "unknown command \"FindFile\""},
    {"command name in the wrong case", "targets: {tags: [a]}\ncommands:\n  - runscript: a.ps1\n", 3,
     5, "names are case-sensitive"},
    {"missing parameter", "targets: {tags: [a]}\ncommands:\n  - GetFile:\n", 3, 5,
     "commands[0].GetFile: missing parameter"},
    {"GetFile before RunScript",
     "targets: {tags: [a]}\ncommands:\n  - GetFile: x\n  - RunScript: a.ps1\n", 4, 5,
     "RunScript after GetFile: commands must come in the order PutFile, then RunScript, then "
     "GetFile"},
    {"PutFile after RunScript",
     "targets: {tags: [a]}\ncommands:\n  - PutFile: a.exe\n  - RunScript: a.ps1\n  - PutFile: "
     "b.exe\n",
     5, 5, "PutFile after RunScript"},
    {"Args on GetFile", "targets: {tags: [a]}\ncommands:\n  - GetFile: x\n    Args: -v\n", 4, 11,
     "only RunScript takes Args"},
    {"two commands in one item",
     "targets: {tags: [a]}\ncommands:\n  - RunScript: a.ps1\n    GetFile: x\n", 4, 5,
     "one command per list item"},
    {"PutFile given a path", "targets: {tags: [a]}\ncommands:\n  - PutFile: 'C:\\tools\\a.exe'\n",
     3, 14, "must be a library file name, not a path"},
    {"Args with a newline",
     "targets: {tags: [a]}\ncommands:\n  - RunScript: a.ps1\n    Args: \"-a\\n-b\"\n", 4, 11,
     "Args: control characters"},
    {"cron minute out of range",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  cron: \"60 1 * * *\"\n", 4, 10,
     "schedule.cron: "},
    {"cron day-of-week out of range",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  cron: \"0 1 * * 8\"\n", 4, 18,
     "schedule.cron: "},
    {"cron with four fields",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  cron: 0 1 * *\n", 4, 16,
     "expected 5 fields"},
    {"bad window",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  window: \"25:00-05:00\"\n", 4,
     12, "schedule.window: "},
    {"bad timezone", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  timezone: CET\n",
     4, 13, "schedule.timezone: expected utc or local"},
    {"bad overlap", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  overlap: wait\n",
     4, 12, "schedule.overlap: expected skip or queue"},
    {"catch_up not a boolean",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nschedule:\n  cron: '0 1 * * *'\n  catch_up: "
     "yes\n",
     5, 13, "schedule.catch_up: expected true or false"},
    {"duration without a unit",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nretry:\n  busy_every: 10\n", 4, 15,
     "retry.busy_every: expected a duration"},
    {"duration in words", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\ndeadline: 3 days\n", 3,
     11, "deadline: expected a duration"},
    {"zero deadline", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\ndeadline: 0s\n", 3, 11,
     "deadline: must be longer than 0"},
    {"negative retry count",
     "targets: {tags: [a]}\ncommands: [{GetFile: x}]\nretry: {failed: -1}\n", 3, 17,
     "retry.failed: expected a whole number from 0 to 10"},
    {"from_file missing", "targets:\n  from_file: nowhere.txt\ncommands: [{GetFile: x}]\n", 2, 14,
     "targets.from_file: \"nowhere.txt\" cannot be read"},
    {"from_file outside the jobs directory",
     "targets:\n  from_file: ../outside.txt\ncommands: [{GetFile: x}]\n", 2, 14,
     "outside the jobs directory"},
    {"top level is a list", "- GetFile: x\n", 1, 1, "job: expected a mapping"},
    {"YAML syntax error", "targets: {tags: [a]\ncommands: [{GetFile: x}]\n", 2, 1, "YAML syntax"},
    {"two YAML documents", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n---\npriority: 1\n", 3,
     1, "a second YAML document starts here"},
    {"NUL byte", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\0\n", 2, 25, "NUL byte"},
    {"empty file", "", 1, 1, "empty"},
    {"only comments", "# nothing yet\n\n", 1, 1, "empty"},
};

std::string first_error(const Diagnostics& d) {
    for (const auto& x : d.all())
        if (x.severity == Severity::error) return x.to_string();
    return "";
}

}  // namespace

TEST_CASE("each invalid job file is rejected at the right line and column") {
    TempDir dir;
    dir.write("outside.txt", "ws1.example\n");
    std::filesystem::create_directories(dir.path() / "jobs");
    const std::string path = (dir.path() / "jobs" / "job.yaml").string();
    const JobContext ctx{(dir.path() / "jobs").string(), {}};
    for (const auto& c : kBadJobs) {
        CAPTURE(c.what);
        Diagnostics diags;
        // sizeof - 1 keeps an embedded NUL in the text.
        const std::string_view text(c.yaml, std::char_traits<char>::length(c.yaml) +
                                                (std::string_view(c.what) == "NUL byte" ? 2 : 0));
        const auto job = parse_job(text, path, ctx, diags);
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

TEST_CASE("every error of a file is reported, not just the first") {
    TempDir dir;
    Diagnostics diags;
    const auto job = parse_job(
        "targets:\n  machines: [nothex]\ncommands:\n  - GetFile: x\n  - RunScript: "
        "a.ps1\npriority: -3\n",
        (dir.path() / "multi.yaml").string(), {}, diags);
    CHECK_FALSE(job.has_value());
    CAPTURE(diags.to_string());
    REQUIRE(diags.error_count() == 3);
    CHECK(diags.all()[0].where.line == 2);
    CHECK(diags.all()[1].where.line == 5);
    CHECK(diags.all()[2].where.line == 6);
    CHECK(diags.to_string().find("multi.yaml:2:14: ") != std::string::npos);
}

TEST_CASE("the job name comes from the file stem and must be a valid name") {
    using lrsched::jobs::job_name_from_path;
    CHECK(job_name_from_path("/etc/lrsched/jobs/nightly-autoruns.yaml") == "nightly-autoruns");
    CHECK(job_name_from_path("ir-2291.v2_final.yml") == "ir-2291.v2_final");
    CHECK_FALSE(job_name_from_path("Nightly.yaml").has_value());
    CHECK_FALSE(job_name_from_path("-x.yaml").has_value());
    CHECK_FALSE(job_name_from_path("job.json").has_value());
    CHECK_FALSE(job_name_from_path("with space.yaml").has_value());

    TempDir dir;
    Diagnostics diags;
    const auto job = parse_job("targets: {tags: [a]}\ncommands: [{GetFile: x}]\n",
                               (dir.path() / "Bad Name.yaml").string(), {}, diags);
    CHECK_FALSE(job.has_value());
    CHECK(first_error(diags).find(":1:1: file name must be") != std::string::npos);
}

TEST_CASE("a valid job carries every field, normalised") {
    TempDir dir;
    dir.write(
        "jobs/targets/list.txt",
        "# ids and names\nAAAABBBBCCCCDDDDEEEEFFFF0000111122223333  # one\n\nHost-2.Example\n");
    const auto path = dir.write("jobs/sweep.yaml", R"(description: test sweep
tenant: contoso
targets:
  machines: [1E5BC9D7E413DDD7902C2932E418702B84D0CC07]
  hostnames: [DC01.contoso.local]
  tags: [tier0, "with space"]
  groups: [Domain Controllers]
  os: [WindowsServer2022]
  from_file: targets/list.txt
  exclude: {tags: [no-lr], hostnames: [dc99.contoso.local]}
commands:
  - PutFile: tool.exe
  - RunScript: run.ps1
    Args: -Out C:\Temp\x.csv
  - GetFile: 'C:\Temp\x.csv'
comment: IR-1 sweep
schedule: {cron: "*/30 2-4 * * mon-fri", window: "22:00-04:00", timezone: local, overlap: queue, catch_up: true}
priority: 70
retry: {busy_every: 90s, failed: 2, expired: 1}
deadline: 36h
)");
    Diagnostics diags;
    const auto job = lrsched::jobs::load_job(path.string(),
                                             {(dir.path() / "jobs").string(), {"contoso"}}, diags);
    CAPTURE(diags.to_string());
    REQUIRE(job.has_value());
    CHECK(job->name == "sweep");
    CHECK(job->tenant == "contoso");
    CHECK(job->targets.include.machines ==
          std::vector<std::string>{"1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
                                   "aaaabbbbccccddddeeeeffff0000111122223333"});
    CHECK(job->targets.include.hostnames ==
          std::vector<std::string>{"dc01.contoso.local", "host-2.example"});
    CHECK(job->targets.include.tags == std::vector<std::string>{"tier0", "with space"});
    CHECK(job->targets.exclude.hostnames == std::vector<std::string>{"dc99.contoso.local"});
    REQUIRE(job->commands.size() == 3);
    CHECK(job->commands[1].type == CommandType::RunScript);
    CHECK(job->commands[1].args == "-Out C:\\Temp\\x.csv");
    CHECK(job->commands[2].param == "C:\\Temp\\x.csv");
    CHECK(job->schedule.cron.has_value());
    CHECK(job->schedule.window.has_value());
    CHECK(job->schedule.tz == lrsched::jobs::TimeZone::local);
    CHECK(job->schedule.overlap == lrsched::jobs::Overlap::queue);
    CHECK(job->schedule.catch_up);
    CHECK(job->priority == 70);
    CHECK(job->retry.busy_every == std::chrono::seconds(90));
    CHECK(job->retry.failed == 2);
    CHECK(job->deadline == std::chrono::hours(36));
    CHECK(lrsched::jobs::to_json(*job)["schedule"]["window"] == "22:00-04:00");
}

TEST_CASE("the tenant is checked against the configuration when there is one") {
    TempDir dir;
    const std::string path = (dir.path() / "j.yaml").string();
    const char* without = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n";
    SUBCASE("one tenant configured: it is implied") {
        Diagnostics diags;
        auto job = parse_job(without, path, {"", {"only"}}, diags);
        REQUIRE(job.has_value());
        CHECK(job->tenant == "only");
    }
    SUBCASE("several tenants: the job must name one") {
        Diagnostics diags;
        CHECK_FALSE(parse_job(without, path, {"", {"a", "b"}}, diags).has_value());
        CHECK(first_error(diags).find(
                  "tenant: required when several tenants are configured (a, b)") !=
              std::string::npos);
    }
    SUBCASE("an unknown tenant") {
        Diagnostics diags;
        CHECK_FALSE(
            parse_job(std::string(without) + "tenant: fabrikam\n", path, {"", {"contoso"}}, diags)
                .has_value());
        CHECK(first_error(diags).find(":3:9: tenant: \"fabrikam\" is not configured") !=
              std::string::npos);
    }
}

TEST_CASE("warnings do not fail a job") {
    TempDir dir;
    Diagnostics diags;
    auto job = parse_job(
        "targets: {tags: [a], os: [TempleOS]}\ncommands: [{GetFile: x}]\nschedule: {catch_up: "
        "true}\n",
        (dir.path() / "w.yaml").string(), {}, diags);
    CHECK(job.has_value());
    CHECK_FALSE(diags.has_errors());
    REQUIRE(diags.all().size() == 2);
    CHECK(diags.all()[0].to_string().find(": warning: targets.os: \"TempleOS\"") !=
          std::string::npos);
    CHECK(diags.all()[1].message.find("no effect without schedule.cron") != std::string::npos);
}
