// `lrsched verify` (SPEC §6): a run folder re-hashed against its manifest;
// missing, extra and altered files all exit 1, and the manifest is read as
// hostile input. Runs the real binary.
#include "common/sha256.hpp"
#include "evidence/manifest.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using lrsched::evidence::ManifestEntry;
using lrsched::evidence::parse_line;
using lrsched::evidence::to_line;
using lrsched::test::run_process;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

ManifestEntry entry(const std::string& file, const std::string& content) {
    ManifestEntry e;
    e.job = "sweep";
    e.run = 7;
    e.machine_id = std::string(40, 'a');
    e.computer_dns_name = "m1.test";
    e.action_id = "act-1";
    e.command_index = 2;
    e.command_type = "GetFile";
    e.remote = "C:\\Temp\\" + file;
    e.file = "m1.test/" + file;
    e.bytes = static_cast<std::int64_t>(content.size());
    e.sha256 = lrsched::sha256_hex(content);
    e.downloaded_at = "2026-11-22T10:00:00.000Z";
    e.action_status = "Succeeded";
    return e;
}

// A run folder with two files and their manifest.
fs::path make_run(const TempDir& dir) {
    const fs::path run = dir.path() / "run";
    fs::create_directories(run / "m1.test");
    std::ofstream manifest(run / "manifest.jsonl");
    for (const auto& [name, content] :
         {std::pair<std::string, std::string>{"2-GetFile-a.log", "alpha"},
          {"3-GetFile-b.log", std::string(100'000, 'b')}}) {
        std::ofstream(run / "m1.test" / name) << content;
        manifest << to_line(entry(name, content));
    }
    return run;
}

lrsched::test::ProcessResult verify(const fs::path& run) {
    return run_process({LRSCHED_BINARY, "verify", run.string()});
}

}  // namespace

TEST_CASE("manifest lines round-trip with every SPEC field") {
    const ManifestEntry e = entry("x.log", "content");
    const std::string line = to_line(e);
    CHECK(line.back() == '\n');
    const auto back = unwrap(parse_line(line.substr(0, line.size() - 1)));
    CHECK(back.file == e.file);
    CHECK(back.remote == e.remote);
    CHECK(back.sha256 == e.sha256);
    CHECK(back.bytes == e.bytes);
    CHECK(back.command_index == 2);
    CHECK(back.action_status == "Succeeded");
}

TEST_CASE("hostile manifest lines are refused with the field named") {
    const std::string good = to_line(entry("x.log", "c"));
    const auto with = [&](const std::string& from, const std::string& to) {
        std::string l = good.substr(0, good.size() - 1);
        const auto at = l.find(from);
        REQUIRE(at != std::string::npos);
        return l.replace(at, from.size(), to);
    };
    CHECK(parse_line("not json").error().message == "not a JSON object");
    CHECK(parse_line("[1,2]").error().message == "not a JSON object");
    CHECK(parse_line(with("\"m1.test/x.log\"", "\"../../etc/passwd\""))
              .error()
              .message.find("`file`") == 0);
    CHECK(parse_line(with("\"m1.test/x.log\"", "\"/etc/passwd\"")).error().message.find("`file`") ==
          0);
    CHECK(parse_line(with("\"m1.test/x.log\"", "\"m1.test//x\"")).error().message.find("`file`") ==
          0);
    CHECK(
        parse_line(with("\"m1.test/x.log\"", "\"m1.test\\\\x\"")).error().message.find("`file`") ==
        0);
    CHECK(parse_line(with("\"bytes\":1", "\"bytes\":-1")).error().message.find("`bytes`") == 0);
    CHECK(parse_line(with("\"bytes\":1", "\"bytes\":\"1\"")).error().message.find("`bytes`") == 0);
    CHECK(parse_line(with("\"sha256\":\"", "\"sha256\":\"Z")).error().message.find("`sha256`") ==
          0);
    CHECK(parse_line(std::string(100'000, ' ')).error().code ==
          make_error_code(lrsched::Errc::limit_exceeded));
}

TEST_CASE("verify passes an intact run folder") {
    TempDir dir;
    const auto run = make_run(dir);
    const auto r = verify(run);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("2 file(s) verified; 0 missing, 0 altered, 0 extra") != std::string::npos);
    CHECK(verify(fs::path(run.string() + "/")).exit_code == 0);  // a trailing slash: the same
}

TEST_CASE("verify catches one altered byte, a missing file and an extra one") {
    TempDir dir;
    const auto run = make_run(dir);
    {
        std::fstream f(run / "m1.test" / "3-GetFile-b.log", std::ios::in | std::ios::out);
        f.seekp(50'000);
        f.put('c');  // same size, one byte different
    }
    auto r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("altered: m1.test/3-GetFile-b.log (sha256") != std::string::npos);

    TempDir dir2;
    const auto run2 = make_run(dir2);
    fs::remove(run2 / "m1.test" / "2-GetFile-a.log");
    std::ofstream(run2 / "m1.test" / ".4-GetFile-c.log.part") << "partial";
    r = verify(run2);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("missing: m1.test/2-GetFile-a.log") != std::string::npos);
    CHECK(r.out.find("extra: m1.test/.4-GetFile-c.log.part") != std::string::npos);
}

TEST_CASE("verify does not follow a planted symbolic link") {
    TempDir dir;
    const auto run = make_run(dir);
    fs::create_directories(dir.path() / "outside");
    std::ofstream(dir.path() / "outside" / "2-GetFile-a.log") << "alpha";
    // Replace the machine folder by a link to a copy outside the run folder.
    fs::rename(run / "m1.test", dir.path() / "moved");
    fs::create_directory_symlink(dir.path() / "outside", run / "m1.test");
    const auto r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("altered: m1.test/2-GetFile-a.log (reached through a symbolic link)") !=
          std::string::npos);
    CHECK(r.out.find("extra: m1.test") != std::string::npos);
}

TEST_CASE("verify reports bad manifest lines by number and a missing folder clearly") {
    TempDir dir;
    const auto run = make_run(dir);
    std::ofstream(run / "manifest.jsonl", std::ios::app) << "{\"job\":1}\n";
    auto r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("error: manifest.jsonl:3: `job`: expected a string") != std::string::npos);
    r = verify(dir.path() / "nope");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("not a run folder") != std::string::npos);
}
