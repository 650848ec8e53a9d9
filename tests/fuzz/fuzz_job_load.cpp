// The job-file load path exactly as the daemon takes it (jobs/job_loader):
// bounded YAML, validation, from_file lists (a real jobs directory with two
// lists), freezing to the stored definition. Whatever the input: no crash,
// no exception, every message positioned, and an accepted job's definition
// is JSON that reads back to itself.
#include "fuzz_check.hpp"
#include "jobs/job_loader.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

std::string g_dir;  // removed at exit
std::string g_jobs_dir;

void write(const std::filesystem::path& p, const char* text) {
    std::ofstream(p) << text;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* tmp = std::getenv("TMPDIR");
    const auto dir =
        std::filesystem::path(tmp ? tmp : "/tmp") / ("lrsched-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "jobs");
    write(dir / "jobs" / "t.txt",
          "ws-01.contoso.example\n1e5bc9d7e413ddd7902c2932e418702b84d0cc07\n");
    write(dir / "jobs" / "bad.txt", "# a comment\nnot a host\n\xe9\n");
    write(dir / "outside.txt", "a.example\n");
    g_dir = dir.string();
    g_jobs_dir = (dir / "jobs").string();
    std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(g_dir, ec);
    });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    lrsched::Diagnostics diags;
    const lrsched::jobs::JobContext ctx{g_jobs_dir, {"contoso", "fabrikam"}};
    const auto loaded = lrsched::jobs::load_job_text(text, g_jobs_dir + "/job.yaml", ctx, diags);
    for (const auto& d : diags.all())
        FUZZ_CHECK(d.where.line >= 1 && d.where.col >= 1);
    FUZZ_CHECK(loaded.has_value() == !diags.has_errors());
    if (loaded) {
        const auto j = nlohmann::json::parse(loaded->definition);
        FUZZ_CHECK(j.dump() == loaded->definition);
        FUZZ_CHECK(loaded->sha256.size() == 64);
    }
    return 0;
}
