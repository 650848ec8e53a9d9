// `lrsched verify` (SPEC §6): a run folder re-hashed against its manifest;
// missing, extra and altered files all exit 1, and the manifest is read as
// hostile input. Runs the real binary.
#include "common/sha256.hpp"
#include "evidence/manifest.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace fs = std::filesystem;
using lrsched::evidence::ManifestEntry;
using lrsched::evidence::parse_line;
using lrsched::evidence::to_line;
using lrsched::test::run_process_within;
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

// Bounded: a hang (a FIFO for a manifest) fails the test instead of blocking
// the suite. A hang detector, not a timing assertion.
lrsched::test::ProcessResult verify(const fs::path& run) {
    auto r = run_process_within({LRSCHED_BINARY, "verify", run.string()}, std::chrono::seconds(20));
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE_MESSAGE(!r.timed_out, "lrsched verify hung (killed after 20 s)");
    return r;
}

// Every line of a report starts with one of its own prefixes: nothing from
// the manifest or the folder started a line of its own.
void check_lines_are_ours(const std::string& out, const fs::path& run) {
    int summaries = 0;
    int missing = 0;
    std::size_t start = 0;
    while (start < out.size()) {
        const std::size_t end = out.find('\n', start);
        const std::string line = out.substr(start, end - start);
        INFO("line: " << line);
        const bool ours = line.rfind("error: ", 0) == 0 || line.rfind("missing: ", 0) == 0 ||
                          line.rfind("altered: ", 0) == 0 || line.rfind("extra: ", 0) == 0 ||
                          line.rfind("chain: ", 0) == 0 || line.rfind(run.string() + ": ", 0) == 0;
        CHECK(ours);
        summaries += line.rfind(run.string() + ": ", 0) == 0 ? 1 : 0;
        missing += line.rfind("missing: ", 0) == 0 ? 1 : 0;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    CHECK(out.find('\x1b') == std::string::npos);
    CHECK(summaries == 1);
    CHECK(missing <= 1);  // the one listed file that is gone
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
    CHECK(r.out.find("altered: \"m1.test/3-GetFile-b.log\" (sha256") != std::string::npos);

    TempDir dir2;
    const auto run2 = make_run(dir2);
    fs::remove(run2 / "m1.test" / "2-GetFile-a.log");
    std::ofstream(run2 / "m1.test" / ".4-GetFile-c.log.part") << "partial";
    r = verify(run2);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("missing: \"m1.test/2-GetFile-a.log\"") != std::string::npos);
    CHECK(r.out.find("extra: \"m1.test/.4-GetFile-c.log.part\"") != std::string::npos);
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
    CHECK(r.out.find("altered: \"m1.test/2-GetFile-a.log\" (reached through a symbolic link)") !=
          std::string::npos);
    CHECK(r.out.find("extra: \"m1.test\"") != std::string::npos);
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

TEST_CASE("verify refuses a manifest that is a symbolic link, even to a matching one") {
    TempDir dir;
    const auto run = make_run(dir);
    // The real manifest moves out of the folder; a link stands in for it.
    fs::rename(run / "manifest.jsonl", dir.path() / "elsewhere.jsonl");
    fs::create_symlink(dir.path() / "elsewhere.jsonl", run / "manifest.jsonl");
    const auto r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("verified") == std::string::npos);
    CHECK(r.err.find("manifest.jsonl: is a symbolic link, which is not followed here") !=
          std::string::npos);

    fs::remove(run / "manifest.jsonl");
    fs::create_symlink("/dev/zero", run / "manifest.jsonl");
    const auto zero = verify(run);
    CHECK(zero.exit_code == 1);
    CHECK(zero.err.find("manifest.jsonl: is a symbolic link") != std::string::npos);
}

TEST_CASE("verify refuses a manifest that is a FIFO or a directory, and one that is missing") {
    TempDir dir;
    const auto run = make_run(dir);
    fs::remove(run / "manifest.jsonl");
    REQUIRE(::mkfifo((run / "manifest.jsonl").c_str(), 0600) == 0);
    const auto fifo = verify(run);
    CHECK(fifo.exit_code == 1);
    CHECK(fifo.err.find("manifest.jsonl: is a FIFO, not a regular file") != std::string::npos);

    fs::remove(run / "manifest.jsonl");
    fs::create_directory(run / "manifest.jsonl");
    const auto d = verify(run);
    CHECK(d.exit_code == 1);
    CHECK(d.out.find("verified") == std::string::npos);  // not an empty manifest
    CHECK(d.err.find("manifest.jsonl: is a directory, not a regular file") != std::string::npos);

    fs::remove(run / "manifest.jsonl");
    const auto none = verify(run);
    CHECK(none.exit_code == 1);
    CHECK(none.err.find("manifest.jsonl: cannot open: No such file or directory") !=
          std::string::npos);
}

TEST_CASE("verify bounds manifest lines: a long one is an error with its number, reading goes on") {
    TempDir dir;
    const auto run = make_run(dir);
    {
        std::ofstream m(run / "manifest.jsonl", std::ios::app);
        m << std::string(100'000, 'x') << "\n";
        m << "{\"job\":1}\n";
    }
    auto r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("error: manifest.jsonl:3: line longer than 65536 bytes") != std::string::npos);
    CHECK(r.out.find("error: manifest.jsonl:4: `job`: expected a string") != std::string::npos);
    CHECK(r.out.find("2 file(s) verified") != std::string::npos);

    // 20 MB without a newline is one line too long, not 20 MB held.
    std::ofstream(run / "manifest.jsonl", std::ios::app) << std::string(20u << 20, '{');
    r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("error: manifest.jsonl:5: line longer than 65536 bytes") != std::string::npos);
}

TEST_CASE("verify escapes names from the manifest and the folder: no forged report line") {
    TempDir dir;
    const auto run = make_run(dir);
    // A listed name and an unlisted file, both carrying a newline and ESC.
    const std::string forged = "x\n" + run.string() + ": 9 file(s) verified\x1b[2K";
    std::ofstream(run / "manifest.jsonl", std::ios::app) << to_line(entry(forged, "gone"));
    std::ofstream(run / "m1.test" / ("y\nmissing: \x1b[31mz")) << "planted";
    const auto r = verify(run);
    CHECK(r.exit_code == 1);
    check_lines_are_ours(r.out, run);
    CHECK(r.out.find("missing: \"m1.test/x\\n") != std::string::npos);
    CHECK(r.out.find("extra: \"m1.test/y\\nmissing: \\x1b[31mz\"") != std::string::npos);
}

TEST_CASE("verify never opens a listed file that is a FIFO or a link") {
    TempDir dir;
    const auto run = make_run(dir);
    fs::remove(run / "m1.test" / "2-GetFile-a.log");
    REQUIRE(::mkfifo((run / "m1.test" / "2-GetFile-a.log").c_str(), 0600) == 0);
    std::ofstream(dir.path() / "copy") << std::string(100'000, 'b');
    fs::remove(run / "m1.test" / "3-GetFile-b.log");
    fs::create_symlink(dir.path() / "copy", run / "m1.test" / "3-GetFile-b.log");
    const auto r = verify(run);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("altered: \"m1.test/2-GetFile-a.log\" (is a FIFO, not a regular file)") !=
          std::string::npos);
    CHECK(r.out.find("altered: \"m1.test/3-GetFile-b.log\" (is a symbolic link") !=
          std::string::npos);
    CHECK(r.out.find("0 file(s) verified") != std::string::npos);
}
