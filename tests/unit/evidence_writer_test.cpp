// Writing evidence files (SPEC §4): complete and hashed under the final name
// or not there at all, collisions suffixed, caps and planted links refused,
// leftovers of a cut-off download removed; checked with `verify`'s own code.
#include "common/sha256.hpp"
#include "evidence/manifest.hpp"
#include "evidence/writer.hpp"
#include "support/temp_dir.hpp"
#include "support/unwrap.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using lrsched::evidence::append_manifest;
using lrsched::evidence::ArtifactWriter;
using lrsched::evidence::ManifestEntry;
using lrsched::evidence::read_manifest;
using lrsched::evidence::remove_unrecorded;
using lrsched::evidence::verify_run_folder;
using lrsched::test::TempDir;
using lrsched::test::unwrap;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

ManifestEntry manifest_entry(const ArtifactWriter::Stored& s) {
    ManifestEntry e;
    e.job = "sweep";
    e.run = 1;
    e.machine_id = std::string(40, 'b');
    e.computer_dns_name = "m1.test";
    e.action_id = "act";
    e.command_index = 1;
    e.command_type = "GetFile";
    e.remote = "C:\\x.log";
    e.file = s.file;
    e.bytes = static_cast<std::int64_t>(s.bytes);
    e.sha256 = s.sha256;
    e.downloaded_at = "2026-11-22T00:00:00.000Z";
    e.action_status = "Succeeded";
    return e;
}

}  // namespace

TEST_CASE("a committed file is complete under its final name, hashed, and verifies") {
    TempDir dir;
    const std::string run = (dir.path() / "run").string();
    auto w = unwrap(ArtifactWriter::open(run, "m1.test", "1-GetFile-x.log", 1 << 20));
    std::string content;
    for (int i = 0; i < 100; ++i) {
        const std::string chunk(1000, static_cast<char>('a' + i % 26));
        unwrap(w.write(chunk));
        content += chunk;
    }
    CHECK_FALSE(fs::exists(fs::path(run) / "m1.test" / "1-GetFile-x.log"));  // not before commit
    const auto stored = unwrap(w.commit());
    CHECK(stored.file == "m1.test/1-GetFile-x.log");
    CHECK(stored.bytes == content.size());
    CHECK(stored.sha256 == lrsched::sha256_hex(content));
    CHECK(slurp(fs::path(run) / stored.file) == content);
    unwrap(append_manifest(run, manifest_entry(stored)));
    const auto report = unwrap(verify_run_folder(run));
    CHECK(report.clean());
    CHECK(report.verified == 1);
    CHECK(read_manifest(run).size() == 1);
}

TEST_CASE("a second file of the same name gets a deterministic suffix") {
    TempDir dir;
    const std::string run = (dir.path() / "run").string();
    for (const char* expected :
         {"m/1-GetFile-x.log", "m/1-GetFile-x~2.log", "m/1-GetFile-x~3.log"}) {
        auto w = unwrap(ArtifactWriter::open(run, "m", "1-GetFile-x.log", 100));
        unwrap(w.write("data"));
        CHECK(unwrap(w.commit()).file == expected);
    }
}

TEST_CASE("an aborted or oversized download leaves no file behind") {
    TempDir dir;
    const std::string run = (dir.path() / "run").string();
    {
        auto w = unwrap(ArtifactWriter::open(run, "m", "1-GetFile-big.bin", 10));
        unwrap(w.write("12345"));
        const auto r = w.write("678901");
        CHECK(r.error().code == make_error_code(lrsched::Errc::limit_exceeded));
    }  // dropped without commit: a reset or a cap
    CHECK(fs::is_empty(fs::path(run) / "m"));
}

TEST_CASE("a symbolic link planted as the machine folder is refused, nothing written through it") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    fs::create_directories(run);
    fs::create_directories(dir.path() / "outside");
    fs::create_directory_symlink(dir.path() / "outside", run / "m");
    const auto w = ArtifactWriter::open(run.string(), "m", "1-GetFile-x.log", 100);
    CHECK_FALSE(w.ok());
    CHECK(fs::is_empty(dir.path() / "outside"));
}

TEST_CASE("leftovers of a crash mid-collection are removed and the folder verifies again") {
    TempDir dir;
    const std::string run = (dir.path() / "run").string();
    std::set<std::string> listed;
    {
        auto w = unwrap(ArtifactWriter::open(run, "m", "1-GetFile-x.log", 100));
        unwrap(w.write("kept"));
        const auto stored = unwrap(w.commit());
        unwrap(append_manifest(run, manifest_entry(stored)));
        listed.insert(stored.file);
    }
    // A crash before the rename leaves a temporary file; one after the
    // rename but before the manifest line, a final file nobody listed.
    std::ofstream(fs::path(run) / "m" / ".2-GetFile-y.log.part") << "half";
    std::ofstream(fs::path(run) / "m" / "3-GetFile-z.log") << "whole, unlisted";
    CHECK(unwrap(verify_run_folder(run)).extra.size() == 2);
    CHECK(remove_unrecorded(run, "m", listed) == 2);
    CHECK(unwrap(verify_run_folder(run)).clean());
    CHECK(slurp(fs::path(run) / "m" / "1-GetFile-x.log") == "kept");  // listed: kept
}

TEST_CASE("a manifest line torn by a crash is cut off before the next line is appended") {
    TempDir dir;
    const std::string run = (dir.path() / "run").string();
    std::vector<ArtifactWriter::Stored> stored;
    for (const char* name : {"1-GetFile-a.log", "2-GetFile-b.log"}) {
        auto w = unwrap(ArtifactWriter::open(run, "m", name, 100));
        unwrap(w.write(name));
        stored.push_back(unwrap(w.commit()));
    }
    unwrap(append_manifest(run, manifest_entry(stored[0])));
    const std::string whole = slurp(fs::path(run) / "manifest.jsonl");
    // The second line was being written when the power went: half of it,
    // no newline. Longer than one read block, to cross a block boundary.
    const std::string torn = lrsched::evidence::to_line(manifest_entry(stored[1]));
    {
        std::ofstream out(fs::path(run) / "manifest.jsonl", std::ios::app | std::ios::binary);
        out << std::string(5000, ' ') << torn.substr(0, torn.size() / 2);
    }
    REQUIRE(read_manifest(run).size() == 1);
    unwrap(append_manifest(run, manifest_entry(stored[1])));
    // The chain goes on from the last complete line, as if nothing was torn.
    auto chained = manifest_entry(stored[1]);
    const std::string last = whole.substr(0, whole.size() - 1);
    chained.prev = lrsched::sha256_hex(last.substr(last.rfind('\n') + 1));
    CHECK(slurp(fs::path(run) / "manifest.jsonl") == whole + lrsched::evidence::to_line(chained));
    CHECK(read_manifest(run).size() == 2);
    CHECK(unwrap(verify_run_folder(run)).clean());
}
