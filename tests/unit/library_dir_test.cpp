// A tenant's library_dir (runtime/library_dir.hpp) on real temp folders:
// what is listed, what is skipped and why, the digest cache, and reads that
// never follow a link or pass the upload limit.
#include "runtime/library_dir.hpp"

#include "common/sha256.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/stat.h>

namespace fs = std::filesystem;
using lrsched::sha256_hex;
using lrsched::runtime::LibraryDir;
using lrsched::runtime::LibraryScan;
using lrsched::test::TempDir;

namespace {

LibraryScan scanned(LibraryDir& d) {
    auto r = d.scan();
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

std::string why_skipped(const LibraryScan& s, const std::string& name) {
    for (const auto& k : s.skipped)
        if (k.name == name) return k.why;
    return "(not skipped)";
}

void set_mtime(const fs::path& p, std::int64_t sec, long nsec) {
    const timespec times[2] = {{sec, nsec}, {sec, nsec}};
    REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE(
    "library_dir lists its regular files with digests and skips what the library cannot take") {
    TempDir tmp;
    const fs::path dir = tmp.path() / "library";
    tmp.write("library/collect.ps1", "Write-Output 1\n");
    tmp.write("library/tool.exe", std::string("MZ\0\x90", 4));
    tmp.write("library/empty.txt", "");
    tmp.write("library/.hidden.ps1", "secret");
    tmp.write("library/sub/inner.ps1", "nested");
    tmp.write("library/my script.ps1", "spaces");
    tmp.write("library/sk\xc3\xa4r.ps1", "utf-8");
    tmp.write("outside.ps1", "outside");
    fs::create_symlink(tmp.path() / "outside.ps1", dir / "link.ps1");
    fs::create_symlink(dir / "collect.ps1", dir / "alias.ps1");

    LibraryDir d(dir.string());
    const LibraryScan s = scanned(d);
    REQUIRE(s.files.size() == 3);
    CHECK(s.files[0].name == "collect.ps1");  // sorted by name
    CHECK(s.files[0].path == (dir / "collect.ps1").string());
    CHECK(s.files[0].bytes == 15);
    CHECK(s.files[0].sha256 == sha256_hex("Write-Output 1\n"));
    CHECK(s.files[1].name == "empty.txt");
    CHECK(s.files[1].sha256 == sha256_hex(""));
    CHECK(s.files[2].name == "tool.exe");
    CHECK(s.files[2].sha256 == sha256_hex(std::string("MZ\0\x90", 4)));

    // Dot-files and sub-folders are not the library's: ignored silently.
    CHECK(why_skipped(s, ".hidden.ps1") == "(not skipped)");
    CHECK(why_skipped(s, "sub") == "(not skipped)");
    // The rest is skipped with a reason the daemon logs.
    CHECK(why_skipped(s, "link.ps1") == "a symbolic link (links are not followed)");
    CHECK(why_skipped(s, "alias.ps1") == "a symbolic link (links are not followed)");
    CHECK(why_skipped(s, "my script.ps1").find("only letters, digits") != std::string::npos);
    CHECK(why_skipped(s, "sk\xc3\xa4r.ps1").find("only letters, digits") != std::string::npos);
    CHECK(s.skipped.size() == 4);
}

TEST_CASE("library_dir skips a file over the upload limit, naming its size") {
    TempDir tmp;
    tmp.write("l/small.ps1", "0123456789");
    tmp.write("l/big.ps1", "0123456789X");
    LibraryDir d((tmp.path() / "l").string(), 10);
    const LibraryScan s = scanned(d);
    REQUIRE(s.files.size() == 1);
    CHECK(s.files[0].name == "small.ps1");
    CHECK(why_skipped(s, "big.ps1") == "11 bytes, over the 10 bytes the API takes in an upload");
}

TEST_CASE("a library_dir that cannot be listed is an error naming it") {
    TempDir tmp;
    LibraryDir d((tmp.path() / "absent").string());
    auto r = d.scan();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find((tmp.path() / "absent").string()) != std::string::npos);
}

TEST_CASE("library_dir digests are cached by size, mtime and inode, and an edit is seen") {
    TempDir tmp;
    const fs::path file = tmp.write("l/a.ps1", "aaaa");
    set_mtime(file, 1'700'000'000, 5);
    LibraryDir d((tmp.path() / "l").string());
    CHECK(scanned(d).files.at(0).sha256 == sha256_hex("aaaa"));

    // Rewritten in place, same size, mtime put back: the cached digest
    // stands, which shows the file was not read again.
    tmp.write("l/a.ps1", "bbbb");
    set_mtime(file, 1'700'000'000, 5);
    CHECK(scanned(d).files.at(0).sha256 == sha256_hex("aaaa"));
    // Any ordinary edit moves the mtime (here by one nanosecond).
    set_mtime(file, 1'700'000'000, 6);
    CHECK(scanned(d).files.at(0).sha256 == sha256_hex("bbbb"));
    // Replaced by another file of the same size and mtime: a new inode.
    tmp.write("l/new.tmp", "cccc");
    set_mtime(tmp.path() / "l/new.tmp", 1'700'000'000, 6);
    fs::rename(tmp.path() / "l/new.tmp", file);
    CHECK(scanned(d).files.at(0).sha256 == sha256_hex("cccc"));
}

TEST_CASE("library_dir reads a file as it is now, never through a link, never past the limit") {
    TempDir tmp;
    tmp.write("l/a.ps1", "content");
    tmp.write("secret.txt", "not for the library");
    LibraryDir d((tmp.path() / "l").string(), 10);
    const auto file = scanned(d).files.at(0);
    auto content = d.read(file);
    REQUIRE(content.ok());
    CHECK(*content == "content");

    // Swapped for a link after the scan: refused, the target never read.
    fs::remove(file.path);
    fs::create_symlink(tmp.path() / "secret.txt", file.path);
    auto linked = d.read(file);
    REQUIRE_FALSE(linked.ok());
    CHECK(linked.error().message.find(file.path) != std::string::npos);

    // Grown past the limit after the scan: refused.
    fs::remove(file.path);
    tmp.write("l/a.ps1", "0123456789ABC");
    auto grown = d.read(file);
    REQUIRE_FALSE(grown.ok());
    CHECK(grown.error().message.find("over the 10 bytes") != std::string::npos);
}

TEST_CASE("a library_dir file swapped for a FIFO after the scan is refused, never waited on") {
    TempDir tmp;
    tmp.write("l/a.ps1", "content");
    LibraryDir d((tmp.path() / "l").string(), 1024);
    const auto file = scanned(d).files.at(0);
    fs::remove(file.path);
    REQUIRE(::mkfifo(file.path.c_str(), 0600) == 0);
    // A blocking open of a FIFO with no writer would never return.
    auto read = d.read(file);
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().message.find("FIFO") != std::string::npos);
    const auto again = scanned(d);
    CHECK(again.files.empty());
    CHECK(why_skipped(again, "a.ps1") == "not a regular file");
}
