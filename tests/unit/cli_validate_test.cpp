// `lrsched validate`, run as the real binary.
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <sys/stat.h>

using lrsched::test::run_process;
using lrsched::test::TempDir;

namespace {
const std::string kBin = LRSCHED_BINARY;
const std::string kSrc = LRSCHED_SOURCE_DIR;
}  // namespace

TEST_CASE("the example job files validate") {
    const auto r = run_process({kBin, "validate", kSrc + "/jobs/nightly-autoruns.yaml",
                                kSrc + "/jobs/ir-2291-triage.yaml"});
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(r.out.find("nightly-autoruns.yaml: ok: job nightly-autoruns") != std::string::npos);
    CHECK(r.out.find("next firing") != std::string::npos);
    CHECK(r.out.find("ir-2291-triage.yaml: ok: job ir-2291-triage") != std::string::npos);
}

TEST_CASE("validate exits 1 and prints file:line:col errors for every bad file") {
    TempDir dir;
    const auto good = dir.write("good.yaml", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n");
    const auto bad1 = dir.write("bad1.yaml", "targets: {tags: [a]}\ncommands:\n  - Getfile: x\n");
    const auto bad2 =
        dir.write("bad2.yaml", "targets: {}\ncommands: [{GetFile: x}]\npriority: 200\n");
    const auto r = run_process({kBin, "validate", good.string(), bad1.string(), bad2.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(bad1.string() + ":3:5: commands[0]: unknown command \"Getfile\"") !=
          std::string::npos);
    CHECK(r.err.find(bad2.string() + ":1:10: targets: empty target set") != std::string::npos);
    CHECK(r.err.find(bad2.string() + ":3:11: priority:") != std::string::npos);
    CHECK(r.out.find(good.string() + ": ok") != std::string::npos);
}

TEST_CASE("warnings alone leave the exit status 0") {
    TempDir dir;
    const auto w =
        dir.write("w.yaml", "targets: {tags: [a], os: [Plan9]}\ncommands: [{GetFile: x}]\n");
    const auto r = run_process({kBin, "validate", w.string()});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find(w.string() + ":1:27: warning: targets.os:") != std::string::npos);
}

TEST_CASE("validate -c checks the configuration, its secrets and every job in jobs_dir") {
    TempDir dir;
    dir.write("jobs/a.yaml", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n");
    dir.write("jobs/b.yaml", "tenant: other\ntargets: {tags: [a]}\ncommands: [{GetFile: x}]\n");
    const auto secret = dir.write("c.secret", "abc\n");
    const auto cfg = dir.write("lrsched.yaml",
                               "jobs_dir: jobs\ntenants:\n  - name: contoso\n"
                               "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
                               "    client_id: 11111111-1111-1111-1111-111111111111\n"
                               "    client_secret_file: c.secret\n");
    ::chmod(secret.c_str(), 0644);
    // Options may follow the command's other arguments.
    auto r = run_process({kBin, "validate", "-c", cfg.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("has mode 0644") != std::string::npos);
    CHECK(r.err.find("b.yaml:1:9: tenant: \"other\" is not configured (configured: contoso)") !=
          std::string::npos);
    CHECK(r.out.find("a.yaml: ok: job a (tenant contoso)") != std::string::npos);

    ::chmod(secret.c_str(), 0600);
    dir.write("jobs/b.yaml", "tenant: contoso\ntargets: {tags: [a]}\ncommands: [{GetFile: x}]\n");
    r = run_process(
        {kBin, "validate", (dir.path() / "jobs/b.yaml").string(), "--config", cfg.string()});
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("abc") == std::string::npos);
    CHECK(r.out.find("abc") == std::string::npos);
}

TEST_CASE("validate -c refuses a jobs_dir it cannot read instead of checking nothing") {
    TempDir dir;
    const auto secret = dir.write("c.secret", "abc\n");
    ::chmod(secret.c_str(), 0600);
    const auto cfg = dir.write("lrsched.yaml",
                               "jobs_dir: no-such-dir\ntenants:\n  - name: contoso\n"
                               "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
                               "    client_id: 11111111-1111-1111-1111-111111111111\n"
                               "    client_secret_file: c.secret\n");
    const auto r = run_process({kBin, "validate", "-c", cfg.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no-such-dir: cannot read the jobs directory") != std::string::npos);
}

TEST_CASE("the command line refuses unknown options and missing arguments") {
    CHECK(run_process({kBin, "validate"}).exit_code == 1);
    const auto r = run_process({kBin, "validate", "--frobnicate", "x.yaml"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("unknown option --frobnicate") != std::string::npos);
    CHECK(run_process({kBin, "-c"}).exit_code == 1);
    CHECK(run_process({kBin, "no-such-command"}).exit_code == 1);
    CHECK(run_process({kBin, "--help"}).exit_code == 0);
}

TEST_CASE("validate refuses a job file that is not UTF-8, naming the first bad byte") {
    TempDir dir;
    // `comment: café` saved as ISO-8859-1: the daemon could not store it.
    const auto latin1 = dir.write(
        "latin1.yaml", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\ncomment: caf\xe9\n");
    const auto r = run_process({kBin, "validate", latin1.string()});
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(latin1.string() + ":3:13: ") != std::string::npos);
    CHECK(r.err.find("not UTF-8") != std::string::npos);
    CHECK(r.out.find(": ok") == std::string::npos);
}

TEST_CASE("validate refuses a quote left open at the end of the file, at the quote") {
    TempDir dir;
    const auto f =
        dir.write("open.yaml", "targets: {tags: [a]}\ncommands:\n  - RunScript: \"a.ps1\n");
    const auto r = run_process({kBin, "validate", f.string()});
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(f.string() + ":3:16: ") != std::string::npos);
    CHECK(r.err.find("never closed") != std::string::npos);
}

TEST_CASE("every message of validate has a position, the whole file's at 1:1") {
    TempDir dir;
    struct Expect {
        std::filesystem::path file;
        std::string at;  // "line:col: "
        const char* says;
    };
    std::vector<Expect> expect;
    const std::string ok = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n";
    expect.push_back(
        {dir.write("nul.yaml",
                   std::string("targets: {tags: [a]}\ncommands: [{GetFile: x}]\0\n", 47)),
         "2:25: ", "NUL byte"});
    expect.push_back({dir.write("two.yaml", ok + "---\n" + ok), "3:1: ", "second YAML document"});
    expect.push_back({dir.write("big.yaml", ok + "comment: " + std::string(2u << 20, 'x') + "\n"),
                      "1:1: ", "over the size cap"});
    expect.push_back({dir.write("empty.yaml", ""), "1:1: ", "empty"});
    expect.push_back({dir.write("blank.yaml", "# to do\n"), "1:1: ", "empty"});
    expect.push_back({dir.path() / "missing.yaml", "1:1: ", "cannot open"});
    std::filesystem::create_directories(dir.path() / "adir");
    expect.push_back(
        {dir.write("fromdir.yaml", "targets: {from_file: adir}\ncommands: [{GetFile: x}]\n"),
         "1:22: ", "targets.from_file: \"adir\": is a directory, not a regular file"});
    std::vector<std::string> argv{kBin, "validate"};
    for (const auto& e : expect)
        argv.push_back(e.file.string());
    const auto r = run_process(argv);
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    for (const auto& e : expect) {
        CAPTURE(e.file);
        const auto at = r.err.find(e.file.string() + ":" + e.at);
        REQUIRE(at != std::string::npos);
        CHECK(r.err.substr(at, r.err.find('\n', at) - at).find(e.says) != std::string::npos);
    }
    // And no line without one.
    std::size_t start = 0;
    while (start < r.err.size()) {
        const std::string line = r.err.substr(start, r.err.find('\n', start) - start);
        start += line.size() + 1;
        CAPTURE(line);
        const auto yaml = line.find(".yaml:");
        REQUIRE(yaml != std::string::npos);
        int l = 0, c = 0;
        CHECK(std::sscanf(line.c_str() + yaml + 6, "%d:%d: ", &l, &c) == 2);
        CHECK(l >= 1);
        CHECK(c >= 1);
    }
}

TEST_CASE("a target list's problems name it, its line, and the job file line that names it") {
    TempDir dir;
    const auto list = dir.write("jobs/t.txt", "ok.example\nnot a host\n");
    const auto job =
        dir.write("jobs/j.yaml", "targets:\n  from_file: t.txt\ncommands: [{GetFile: x}]\n");
    const auto r = run_process({kBin, "validate", job.string()});
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(list.string() +
                     ":2:1: \"not a host\" is neither a machine id nor a host name "
                     "(target list named at " +
                     job.string() + ":2:14)") != std::string::npos);
}

TEST_CASE("validate -c reports a tenant's secret problem at the tenant's entry") {
    TempDir dir;
    dir.write("jobs/a.yaml", "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n");
    const auto cfg = dir.write("lrsched.yaml",
                               "jobs_dir: jobs\ntenants:\n  - name: contoso\n"
                               "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
                               "    client_id: 11111111-1111-1111-1111-111111111111\n"
                               "    client_secret_file: missing.secret\n");
    const auto r = run_process({kBin, "validate", "-c", cfg.string()});
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(cfg.string() + ":3:5: tenant contoso: secret file ") != std::string::npos);
}
