// The manifest's hash chain (SPEC §4, issue 15 item 5): written by
// append_manifest, checked by verify_run_folder. Each tampering a reader of
// the folder alone can see is caught and named by line; a cut last line only
// by the run digest; a manifest from before the chain still verifies.
#include "common/sha256.hpp"
#include "evidence/manifest.hpp"
#include "evidence/writer.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using lrsched::evidence::ManifestEntry;
using lrsched::evidence::VerifyReport;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

ManifestEntry entry(const std::string& name, const std::string& content) {
    ManifestEntry e;
    e.job = "sweep";
    e.run = 3;
    e.machine_id = std::string(40, 'c');
    e.computer_dns_name = "m1.test";
    e.action_id = "act-" + name;
    e.command_index = 1;
    e.command_type = "GetFile";
    e.remote = "C:\\Temp\\" + name;
    e.file = "m1.test/" + name;
    e.bytes = static_cast<std::int64_t>(content.size());
    e.sha256 = lrsched::sha256_hex(content);
    e.downloaded_at = "2026-12-06T10:00:00.000Z";
    e.action_status = "Succeeded";
    return e;
}

// A run folder of `n` files written through the real writer; returns the
// digest append_manifest gave for the last line.
std::string make_run(const fs::path& run, int n) {
    fs::create_directories(run / "m1.test");
    std::string digest;
    for (int i = 1; i <= n; ++i) {
        const std::string name = std::to_string(i) + "-GetFile-f.log";
        const std::string content = "content " + std::to_string(i);
        std::ofstream(run / "m1.test" / name) << content;
        digest = unwrap(lrsched::evidence::append_manifest(run.string(), entry(name, content)));
    }
    return digest;
}

std::vector<std::string> lines_of(const fs::path& run) {
    std::ifstream in(run / "manifest.jsonl");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

void write_lines(const fs::path& run, const std::vector<std::string>& lines) {
    std::ofstream out(run / "manifest.jsonl", std::ios::trunc);
    for (const auto& l : lines)
        out << l << '\n';
}

VerifyReport verify(const fs::path& run, std::optional<std::string> digest = {}) {
    return unwrap(lrsched::evidence::verify_run_folder(run.string(), digest));
}

std::string all_breaks(const VerifyReport& r) {
    std::string s;
    for (const auto& b : r.breaks)
        s += b + "\n";
    return s;
}

}  // namespace

TEST_CASE("chain: a fresh manifest starts with a seeded head, each line names the one before") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    const std::string digest = make_run(run, 3);
    const auto lines = lines_of(run);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].find("\"chain\":\"sha256\"") != std::string::npos);
    CHECK(lines[0].find("\"seed\":\"") != std::string::npos);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto e = unwrap(lrsched::evidence::parse_line(lines[i]));
        CHECK(e.prev == lrsched::sha256_hex(lines[i - 1]));
    }
    CHECK(digest == lrsched::sha256_hex(lines.back()));
    CHECK(lrsched::evidence::manifest_digest(run.string()) == digest);
    // Two runs never share a seed.
    const fs::path other = dir.path() / "other";
    make_run(other, 1);
    CHECK(lines_of(other)[0] != lines[0]);

    const auto r = verify(run, digest);
    INFO(all_breaks(r));
    CHECK(r.clean());
    CHECK(r.chain == "chained");
    CHECK(r.verified == 3);
    CHECK(r.digest == digest);
    CHECK(r.digest_ok == true);
    CHECK_FALSE(verify(run, std::string(64, '0')).clean());
}

TEST_CASE("chain: after a torn tail is cut, the chain goes on from the last complete line") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    make_run(run, 2);
    { std::ofstream(run / "manifest.jsonl", std::ios::app) << "{\"job\":\"sweep\",\"ru"; }
    std::ofstream(run / "m1.test" / "3-GetFile-f.log") << "content 3";
    const std::string digest = unwrap(
        lrsched::evidence::append_manifest(run.string(), entry("3-GetFile-f.log", "content 3")));
    const auto r = verify(run, digest);
    INFO(all_breaks(r));
    CHECK(r.clean());
    CHECK(lines_of(run).size() == 4);
}

TEST_CASE("chain: each removed, moved or edited line is caught and named by line") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    const std::string digest = make_run(run, 4);
    const auto lines = lines_of(run);  // head, then files 1..4 on lines 2..5

    SUBCASE("the first line (the chain head) removed") {
        write_lines(run, {lines[1], lines[2], lines[3], lines[4]});
        const auto r = verify(run);
        REQUIRE(r.break_count == 1);
        CHECK(r.breaks[0].find("manifest.jsonl:1: ") == 0);
        CHECK(r.breaks[0].find("chain head is missing") != std::string::npos);
    }
    SUBCASE("the first file's line removed") {
        write_lines(run, {lines[0], lines[2], lines[3], lines[4]});
        const auto r = verify(run);
        REQUIRE(r.break_count == 1);
        CHECK(r.breaks[0].find("manifest.jsonl:2: chain broken") == 0);
    }
    SUBCASE("a middle line removed") {
        write_lines(run, {lines[0], lines[1], lines[3], lines[4]});
        const auto r = verify(run);
        REQUIRE(r.break_count == 1);
        CHECK(r.breaks[0].find("manifest.jsonl:3: chain broken") == 0);
        CHECK(r.breaks[0].find("line 2 hashes to") != std::string::npos);
    }
    SUBCASE("the last line removed: only the digest sees it") {
        write_lines(run, {lines[0], lines[1], lines[2], lines[3]});
        const auto r = verify(run);
        CHECK(r.break_count == 0);
        CHECK(r.extra.size() == 1);  // its file, now unlisted
        const auto d = verify(run, digest);
        CHECK(d.digest_ok == false);
        CHECK_FALSE(d.clean());
    }
    SUBCASE("the last line and its file removed: only the digest sees it") {
        write_lines(run, {lines[0], lines[1], lines[2], lines[3]});
        fs::remove(run / "m1.test" / "4-GetFile-f.log");
        CHECK(verify(run).clean());
        CHECK_FALSE(verify(run, digest).clean());
    }
    SUBCASE("two lines swapped") {
        write_lines(run, {lines[0], lines[1], lines[3], lines[2], lines[4]});
        const auto r = verify(run);
        CHECK(r.break_count >= 1);
        CHECK(r.breaks[0].find("manifest.jsonl:3: chain broken") == 0);
    }
    SUBCASE("one byte of a line edited (and its file to match)") {
        std::string edited = lines[2];
        const auto at = edited.find("Succeeded");
        REQUIRE(at != std::string::npos);
        edited[at] = 'X';
        write_lines(run, {lines[0], lines[1], edited, lines[3], lines[4]});
        const auto r = verify(run);
        REQUIRE(r.break_count == 1);
        CHECK(r.breaks[0].find("manifest.jsonl:4: chain broken") == 0);
    }
    SUBCASE("the last line edited: only the digest sees it") {
        std::string edited = lines[4];
        edited[edited.find("Succeeded")] = 'X';
        write_lines(run, {lines[0], lines[1], lines[2], lines[3], edited});
        CHECK(verify(run).clean());
        CHECK_FALSE(verify(run, digest).clean());
    }
}

TEST_CASE("chain: a manifest from before the chain verifies as unchained, and stays so") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    fs::create_directories(run / "m1.test");
    std::ofstream manifest(run / "manifest.jsonl");
    for (const std::string name : {"1-GetFile-a.log", "2-GetFile-b.log"}) {
        std::ofstream(run / "m1.test" / name) << name;
        manifest << lrsched::evidence::to_line(entry(name, name));
    }
    manifest.close();
    // A run that began before the upgrade goes on without a chain.
    std::ofstream(run / "m1.test" / "3-GetFile-c.log") << "c";
    const std::string digest =
        unwrap(lrsched::evidence::append_manifest(run.string(), entry("3-GetFile-c.log", "c")));
    CHECK(lines_of(run).back().find("\"prev\"") == std::string::npos);
    const auto r = verify(run, digest);
    INFO(all_breaks(r));
    CHECK(r.clean());
    CHECK(r.chain == "unchained");
    CHECK(r.verified == 3);
}

TEST_CASE("chain: lrsched verify --digest prints the break and exits 1") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    const std::string digest = make_run(run, 3);
    const auto ok =
        lrsched::test::run_process({LRSCHED_BINARY, "verify", run.string(), "--digest", digest});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.find("chain: chained, intact; digest " + digest) != std::string::npos);
    const auto wrong = lrsched::test::run_process(
        {LRSCHED_BINARY, "verify", run.string(), "--digest", std::string(64, 'f')});
    CHECK(wrong.exit_code == 1);
    CHECK(wrong.out.find("digest: the last line hashes to " + digest) != std::string::npos);
    auto lines = lines_of(run);
    lines.erase(lines.begin() + 2);
    write_lines(run, lines);
    const auto broken = lrsched::test::run_process({LRSCHED_BINARY, "verify", run.string()});
    INFO(broken.out);
    CHECK(broken.exit_code == 1);
    CHECK(broken.out.find("chain: manifest.jsonl:3: chain broken") != std::string::npos);
}
