// Evidence names made from hostile remote names (SPEC §4: "remote names never
// escape the run folder"): each case is checked as a string and, for the
// worst ones, by writing the file and finding it inside the run folder.
#include "evidence/naming.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;
using lrsched::evidence::artifact_name;
using lrsched::evidence::kMaxComponent;
using lrsched::evidence::machine_folder;
using lrsched::evidence::remote_basename;
using lrsched::evidence::safe_component;
using lrsched::evidence::unique_name;
using lrsched::test::TempDir;

namespace {

// A name is one path component: no separator, not `.`/`..`, no NUL or
// control byte, within the byte cap.
void check_single_component(const std::string& name) {
    INFO("name: " << name);
    CHECK_FALSE(name.empty());
    CHECK(name.size() <= kMaxComponent);
    CHECK(name != ".");
    CHECK(name != "..");
    CHECK(name.find('/') == std::string::npos);
    CHECK(name.find('\\') == std::string::npos);
    for (const char c : name)
        CHECK(static_cast<unsigned char>(c) >= 0x20);
}

// Writes a file under `run/<folder>/<name>` and checks that it landed
// exactly there, inside the run folder.
void check_lands_inside(const fs::path& run, const std::string& folder, const std::string& name) {
    fs::create_directories(run / folder);
    const fs::path p = run / folder / name;
    std::ofstream(p) << "x";
    REQUIRE(fs::exists(p));
    const auto canonical = fs::canonical(p);
    const auto root = fs::canonical(run);
    CHECK(canonical.parent_path().parent_path() == root);
}

}  // namespace

TEST_CASE("remote paths give their last component, whatever the separator or prefix") {
    CHECK(remote_basename("C:\\Windows\\Temp\\autoruns.csv") == "autoruns.csv");
    CHECK(remote_basename("/etc/passwd") == "passwd");
    CHECK(remote_basename("\\\\server\\share\\dir\\f.txt") == "f.txt");
    CHECK(remote_basename("\\\\?\\C:\\very\\long\\path.bin") == "path.bin");
    CHECK(remote_basename("C:x.log") == "x.log");
    CHECK(remote_basename("collect.ps1") == "collect.ps1");
    CHECK(remote_basename("C:\\dir\\") == "");
}

TEST_CASE("hostile remote names become one safe component inside the run folder") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    const std::string hostile[] = {
        "..\\..\\x",
        "../../../etc/passwd",
        "/etc/passwd",
        "C:\\Windows\\..\\..\\evil",
        "\\\\server\\share\\..",
        "\\\\?\\C:\\..",
        "..",
        ".",
        "",
        "C:",
        std::string("a\0b", 3),
        "line\nbreak\r\tand\x1b[31mansi",
        std::string(300, 'A') + ".log",
        "trailing. . .",
        "con:stream*?\"<>|",
        "\xff\xfe invalid utf-8 \xc3",
        "\xe2\x82\xac" + std::string(250, 'x'),  // a multi-byte character, then a cut
    };
    int index = 1;
    for (const auto& remote : hostile) {
        const std::string name = artifact_name(index++, "GetFile", remote);
        check_single_component(name);
        check_lands_inside(run, "m", name);
    }
    CHECK(artifact_name(3, "GetFile", "C:\\Windows\\Temp\\autoruns.csv") ==
          "3-GetFile-autoruns.csv");
    CHECK(artifact_name(2, "RunScript", "collect.ps1") == "2-RunScript-collect.ps1");
    CHECK(artifact_name(1, "GetFile", "..") == "1-GetFile-_");
}

TEST_CASE("names are cut to the cap on a UTF-8 character boundary") {
    const std::string euro = "\xe2\x82\xac";
    std::string many;
    for (int i = 0; i < 100; ++i)
        many += euro;
    const std::string s = safe_component(many, 10);
    CHECK(s == euro + euro + euro);  // 9 bytes: a fourth would cross 10
    CHECK(safe_component(std::string(300, 'a')).size() == kMaxComponent);
}

TEST_CASE("machine folders come from the host name, else the id, made safe") {
    CHECK(machine_folder("dc01.contoso.local", "abc") == "dc01.contoso.local");
    CHECK(machine_folder("", "1e5bc9d7e413ddd7902c2932e418702b84d0cc07") ==
          "1e5bc9d7e413ddd7902c2932e418702b84d0cc07");
    check_single_component(machine_folder("../../root", "x"));
    check_single_component(machine_folder("..", "x"));
}

TEST_CASE("a planted symlink in the run folder is not followed by a safe name") {
    TempDir dir;
    const fs::path run = dir.path() / "run";
    fs::create_directories(run / "m");
    fs::create_directories(dir.path() / "outside");
    // An attacker-made link named like a path component: a safe name never
    // contains a separator, so it can only ever name the link itself.
    fs::create_directory_symlink(dir.path() / "outside", run / "m" / "link");
    const std::string name = artifact_name(1, "GetFile", "link/../../outside/x");
    check_single_component(name);
    CHECK(name.find('/') == std::string::npos);
    CHECK(name != "link");
}

TEST_CASE("collisions get a deterministic suffix, kept within the cap") {
    std::set<std::string> taken = {"1-GetFile-x.log", "1-GetFile-x~2.log"};
    const auto is_taken = [&](const std::string& n) { return taken.count(n) > 0; };
    CHECK(unique_name("1-GetFile-y.log", is_taken) == "1-GetFile-y.log");
    CHECK(unique_name("1-GetFile-x.log", is_taken) == "1-GetFile-x~3.log");
    CHECK(unique_name("1-GetFile-x.log", is_taken) == "1-GetFile-x~3.log");  // same answer
    const std::string long_name = std::string(kMaxComponent - 4, 'a') + ".log";
    taken.insert(long_name);
    const std::string u = unique_name(long_name, is_taken);
    CHECK(u.size() <= kMaxComponent);
    CHECK(u.substr(u.size() - 6) == "~2.log");
    taken.insert(".hidden");
    CHECK(unique_name(".hidden", is_taken) == ".hidden~2");
}
