// Reliability scenario A9 at the registry level: edits, broken edits and
// deletions of job files.
#include "jobs/registry.hpp"

#include "common/sha256.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

using lrsched::jobs::JobRegistry;
using lrsched::test::TempDir;

namespace {
const char* kValid = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n";
const char* kValid2 = "targets: {tags: [a, b]}\ncommands: [{GetFile: x}]\npriority: 80\n";
const char* kBroken = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\npriority: high\n";
}  // namespace

TEST_CASE("the registry loads, keeps, replaces and removes jobs as their files change") {
    TempDir dir;
    const auto jobs = dir.path() / "jobs";
    dir.write("jobs/a.yaml", kValid);
    dir.write("jobs/b.yml", kValid);
    dir.write("jobs/notes.txt", "not a job");
    JobRegistry reg({jobs.string(), {}});

    auto r = reg.scan();
    CHECK(r.changed == std::vector<std::string>{"a", "b"});
    CHECK(r.refused.empty());
    REQUIRE(reg.find("a") != nullptr);
    const std::string first_hash = reg.find("a")->sha256;
    CHECK(first_hash.size() == 64);

    r = reg.scan();  // nothing changed
    CHECK(r.changed.empty());
    CHECK(r.refused.empty());
    CHECK(r.removed.empty());

    SUBCASE("a broken edit keeps the last valid version, and is reported once") {
        dir.write("jobs/a.yaml", kBroken);
        r = reg.scan();
        REQUIRE(r.refused.size() == 1);
        CHECK(r.refused[0].first == "a");
        CHECK(r.refused[0].second.find("a.yaml:3:11: priority:") != std::string::npos);
        CHECK(reg.find("a")->job.priority == 50);
        CHECK(reg.find("a")->sha256 == first_hash);
        CHECK(reg.scan().refused.empty());

        dir.write("jobs/a.yaml", kValid2);  // fixed
        r = reg.scan();
        CHECK(r.changed == std::vector<std::string>{"a"});
        CHECK(reg.find("a")->job.priority == 80);
        CHECK(reg.find("a")->sha256 != first_hash);
    }
    SUBCASE("a deleted file removes its job") {
        std::filesystem::remove(jobs / "b.yml");
        r = reg.scan();
        CHECK(r.removed == std::vector<std::string>{"b"});
        CHECK(reg.find("b") == nullptr);
        CHECK(reg.find("a") != nullptr);
    }
    SUBCASE("one job name in two files is refused") {
        dir.write("jobs/a.yml", kValid2);
        r = reg.scan();
        REQUIRE(r.refused.size() == 1);
        CHECK(r.refused[0].second.find("job a is already defined by") != std::string::npos);
        CHECK(reg.find("a")->job.priority == 50);
    }
}

TEST_CASE("a change of a job's target list alone changes the job") {
    TempDir dir;
    dir.write("jobs/t.txt", "a.example\n");
    dir.write("jobs/j.yaml", "targets: {from_file: t.txt}\ncommands: [{GetFile: x}]\n");
    JobRegistry reg({(dir.path() / "jobs").string(), {}});
    CHECK(reg.scan().changed.size() == 1);
    CHECK(reg.find("j")->job.targets.include.hostnames.size() == 1);
    dir.write("jobs/t.txt", "a.example\nb.example\n");
    CHECK(reg.scan().changed == std::vector<std::string>{"j"});
    CHECK(reg.find("j")->job.targets.include.hostnames.size() == 2);
}

TEST_CASE("an unreadable jobs directory withdraws nothing") {
    TempDir dir;
    dir.write("jobs/a.yaml", kValid);
    JobRegistry reg({(dir.path() / "jobs").string(), {}});
    REQUIRE(reg.scan().changed.size() == 1);
    std::filesystem::rename(dir.path() / "jobs", dir.path() / "moved");
    const auto r = reg.scan();
    CHECK(r.removed.empty());
    CHECK(r.refused.size() == 1);
    CHECK(reg.find("a") != nullptr);
}

TEST_CASE("the registry refuses a job file that is not UTF-8 with validate's message") {
    TempDir dir;
    const auto path = dir.write(
        "jobs/latin1.yaml", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\ncomment: caf\xe9\n");
    dir.write("jobs/good.yaml", kValid);
    JobRegistry reg({(dir.path() / "jobs").string(), {}});
    const auto r = reg.scan();
    CHECK(r.changed == std::vector<std::string>{"good"});
    REQUIRE(r.refused.size() == 1);
    CHECK(r.refused[0].first == "latin1");
    CHECK(r.refused[0].second.rfind(path.string() + ":3:13: ", 0) == 0);
    CHECK(r.refused[0].second.find("not UTF-8") != std::string::npos);
    CHECK(reg.find("latin1") == nullptr);
    // Word for word what `lrsched validate` prints: both take load_job_file.
    lrsched::Diagnostics diags;
    CHECK_FALSE(
        lrsched::jobs::load_job_file(path.string(), {(dir.path() / "jobs").string(), {}}, diags));
    CHECK(r.refused[0].second == diags.to_string());
}

TEST_CASE("a job is stored as the definition and hash of exactly the bytes it was parsed from") {
    TempDir dir;
    const std::string job = "targets: {from_file: t.txt}\ncommands: [{GetFile: x}]\n";
    const std::string list = "a.example\n";
    dir.write("jobs/t.txt", list);
    dir.write("jobs/j.yaml", job);
    JobRegistry reg({(dir.path() / "jobs").string(), {}});
    REQUIRE(reg.scan().changed.size() == 1);
    const auto* lj = reg.find("j");
    REQUIRE(lj != nullptr);
    CHECK(lj->sha256 == lrsched::sha256_hex(job + list));
    CHECK(lj->definition == lrsched::jobs::to_json(lj->job).dump());
    CHECK(lj->definition.find("\"a.example\"") != std::string::npos);
}

TEST_CASE("a job refused for its target list is loaded once the list is fixed or appears") {
    TempDir dir;
    dir.write("jobs/t.txt", "not a host\n");
    dir.write("jobs/j.yaml", "targets: {from_file: t.txt}\ncommands: [{GetFile: x}]\n");
    dir.write("jobs/k.yaml", "targets: {from_file: later.txt}\ncommands: [{GetFile: x}]\n");
    JobRegistry reg({(dir.path() / "jobs").string(), {}});
    auto r = reg.scan();
    CHECK(r.refused.size() == 2);
    CHECK(reg.scan().refused.empty());  // reported once
    dir.write("jobs/t.txt", "a.example\n");
    dir.write("jobs/later.txt", "b.example\n");
    r = reg.scan();
    CHECK(r.changed == std::vector<std::string>{"j", "k"});
    CHECK(r.refused.empty());
}
