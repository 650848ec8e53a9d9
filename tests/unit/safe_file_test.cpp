// Untrusted paths (issue 10, A6): a FIFO, a directory or a device where a
// secret, a job file, the configuration, a target list or the database
// should be is refused with a message naming the path, never waited on. The
// helper first, then the real `lrsched` binary (validate -c, status,
// sessions, daemon) with a bound on its answer, so a hang fails the test.
#include "common/safe_file.hpp"

#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using lrsched::Errc;
using lrsched::Links;
using lrsched::read_regular_file;
using lrsched::test::ProcessResult;
using lrsched::test::run_process_within;
using lrsched::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A hang detector, not a timing assertion: each command answers in
// milliseconds when it does not hang.
constexpr std::chrono::seconds kHang{20};

std::string make_fifo(const fs::path& p) {
    fs::create_directories(p.parent_path());
    REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
    return p.string();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// A site with one tenant, a private secret and an empty jobs_dir.
struct Site {
    TempDir dir;
    fs::path state = dir.path() / "state";
    fs::path db = state / "lrsched.db";

    Site() {
        fs::create_directories(state);
        fs::create_directories(dir.path() / "jobs");
        write_secret("c.secret");
        write_config("c.secret");
    }
    void write_secret(const std::string& name) {
        const auto p = dir.write(name, "s3cret\n");
        ::chmod(p.c_str(), 0600);
    }
    void write_config(const std::string& secret) {
        dir.write("lrsched.yaml",
                  "state_dir: state\n"
                  "jobs_dir: jobs\n"
                  "control: {socket: " +
                      (dir.path() / "control.sock").string() +
                      "}\n"
                      "tenants:\n"
                      "  - name: contoso\n"
                      "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
                      "    client_id: 11111111-1111-1111-1111-111111111111\n"
                      "    client_secret_file: " +
                      secret + "\n");
    }
    std::string config() const { return (dir.path() / "lrsched.yaml").string(); }
    ProcessResult run(std::vector<std::string> args, std::vector<std::string> env = {}) const {
        args.insert(args.begin(), LRSCHED_BINARY);
        args.emplace_back("-c");
        args.push_back(config());
        auto r = run_process_within(args, kHang, env);
        INFO("stdout: " << r.out << "\nstderr: " << r.err);
        REQUIRE_MESSAGE(!r.timed_out, "lrsched " << args[1] << " hung (killed after 20 s)");
        return r;
    }
};

}  // namespace

TEST_CASE("safe file: a FIFO, a directory and a device are refused without blocking") {
    TempDir dir;
    const auto fifo = make_fifo(dir.path() / "fifo");
    auto r = read_regular_file(fifo, 1024, Links::follow);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "is a FIFO, not a regular file");

    auto d = read_regular_file(dir.path().string(), 1024, Links::follow);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().message == "is a directory, not a regular file");

    auto z = read_regular_file("/dev/zero", 1024, Links::follow);
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().message == "is a character device, not a regular file");

    auto missing = read_regular_file((dir.path() / "none").string(), 1024, Links::follow);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("safe file: links are followed or refused as asked, to a regular file only") {
    TempDir dir;
    const auto target = dir.write("real", "content");
    fs::create_symlink(target, dir.path() / "link");
    fs::create_symlink("/dev/zero", dir.path() / "zero");
    const std::string link = (dir.path() / "link").string();

    CHECK(*read_regular_file(link, 1024, Links::follow) == "content");
    auto refused = read_regular_file(link, 1024, Links::refuse);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message == "is a symbolic link, which is not followed here");
    // Followed, the link must still lead to a regular file.
    auto zero = read_regular_file((dir.path() / "zero").string(), 1024, Links::follow);
    REQUIRE_FALSE(zero.ok());
    CHECK(zero.error().message == "is a character device, not a regular file");
}

TEST_CASE("safe file: reading stops at the cap") {
    TempDir dir;
    const auto p = dir.write("big", std::string(5000, 'x'));
    CHECK(read_regular_file(p.string(), 5000, Links::refuse)->size() == 5000);
    auto over = read_regular_file(p.string(), 4999, Links::refuse);
    REQUIRE_FALSE(over.ok());
    CHECK(over.error().code == Errc::limit_exceeded);
    CHECK(over.error().message == "is 5000 bytes, over the size cap of 4999 bytes");
    CHECK(read_regular_file(dir.write("empty", "").string(), 10, Links::refuse)->empty());
}

TEST_CASE("safe file: the database path is checked by kind, a missing file is fine") {
    TempDir dir;
    CHECK(lrsched::check_regular_or_missing((dir.path() / "none.db").string()).ok());
    CHECK(lrsched::check_regular_or_missing(dir.write("ok.db", "").string()).ok());
    const auto fifo = make_fifo(dir.path() / "fifo.db");
    auto r = lrsched::check_regular_or_missing(fifo);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "is a FIFO, not a regular file");
    CHECK_FALSE(lrsched::check_regular_or_missing(dir.path().string()).ok());
}

TEST_CASE("validate -c: a client_secret_file that is a FIFO is refused, not waited on") {
    Site site;
    const auto fifo = make_fifo(site.dir.path() / "fifo.secret");
    site.write_config("fifo.secret");
    const auto r = site.run({"validate"});
    CHECK(r.exit_code == 1);
    CHECK(
        contains(r.err, "tenant contoso: secret file " + fifo + ": is a FIFO, not a regular file"));
}

TEST_CASE("validate -c: a FIFO in $CREDENTIALS_DIRECTORY is refused, not waited on") {
    Site site;
    const auto fifo = make_fifo(site.dir.path() / "creds" / "contoso.secret");
    const auto r =
        site.run({"validate"}, {"CREDENTIALS_DIRECTORY=" + (site.dir.path() / "creds").string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, fifo + ": is a FIFO, not a regular file"));
}

TEST_CASE("validate: a job file, a target list or the configuration that is a FIFO is refused") {
    Site site;
    const auto job = make_fifo(site.dir.path() / "jobs" / "fifo.yaml");
    make_fifo(site.dir.path() / "jobs" / "targets.txt");
    const auto uses_list = site.dir.write("jobs/uses-list.yaml",
                                          "tenant: contoso\n"
                                          "targets:\n"
                                          "  from_file: targets.txt\n"
                                          "commands:\n"
                                          "  - GetFile: 'C:\\x.log'\n");
    const auto r = site.run({"validate", job, uses_list.string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, job + ":1:1: is a FIFO, not a regular file"));
    CHECK(contains(r.err, "\"targets.txt\": is a FIFO, not a regular file"));

    const auto config = make_fifo(site.dir.path() / "fifo.yaml");
    auto c = run_process_within({LRSCHED_BINARY, "validate", "-c", config}, kHang);
    REQUIRE_FALSE(c.timed_out);
    CHECK(c.exit_code == 1);
    CHECK(contains(c.err, config + ":1:1: is a FIFO, not a regular file"));
}

TEST_CASE("status and sessions: a database path that is a FIFO is refused, not waited on") {
    Site site;
    make_fifo(site.db);
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"status"}, std::vector<std::string>{"sessions", "sweep"}}) {
        const auto r = site.run(cmd);
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, site.db.string() + ": is a FIFO, not a regular file"));
    }
}

TEST_CASE("status: a database path that is a directory or a device is refused with its kind") {
    Site site;
    fs::create_directories(site.db);
    auto dir = site.run({"status"});
    CHECK(dir.exit_code == 2);
    CHECK(contains(dir.err, site.db.string() + ": is a directory, not a regular file"));
    fs::remove(site.db);
    fs::create_symlink("/dev/null", site.db);
    auto dev = site.run({"status"});
    CHECK(dev.exit_code == 2);
    CHECK(contains(dev.err, site.db.string() + ": is a character device, not a regular file"));
}

TEST_CASE("daemon: a FIFO as the database or as the secret stops it with a message") {
    Site site;
    SUBCASE("the database") {
        make_fifo(site.db);
        const auto r = site.run({"daemon"});
        CHECK(r.exit_code == 1);
        CHECK(contains(r.err, site.db.string() + ": is a FIFO, not a regular file"));
    }
    SUBCASE("the secret") {
        const auto fifo = make_fifo(site.dir.path() / "fifo.secret");
        site.write_config("fifo.secret");
        const auto r = site.run({"daemon"});
        CHECK(r.exit_code == 1);
        CHECK(contains(r.err, fifo + ": is a FIFO, not a regular file"));
    }
}
