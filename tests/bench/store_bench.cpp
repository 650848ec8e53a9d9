// Store figures (SPEC §8, issue 10 E19): how long the store takes to queue a
// 100,000-target run in one batch, and to hand out sessions from a queue of
// 100,000 (the dispatcher's pick plus its begin_submit transaction). Printed,
// never asserted: the numbers depend on the machine and its disk. The test
// suite checks the same paths for correctness and their query plans
// (store_test, store_queue_test), not their speed.
//   lrsched-store-bench [ROWS]    (default 100000; a temp directory is used)
#include "store/store.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using lrsched::store::NewSession;
using lrsched::store::Store;

template <typename T>
T must(lrsched::Result<T> r, const char* what) {
    if (!r) {
        std::fprintf(stderr, "store bench: %s: %s\n", what, r.error().message.c_str());
        std::exit(1);
    }
    return std::move(r).value();
}

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::int64_t make_run(Store& s) {
    lrsched::store::JobRow job;
    job.name = "bench";
    job.tenant = "contoso";
    job.definition = R"({"commands":[{"type":"GetFile","path":"C:\\x.log"}]})";
    job.source_path = "/etc/lrsched/jobs/bench.yaml";
    job.source_sha256 = std::string(64, 'a');
    job.loaded_at = 1'000;
    lrsched::store::NewRun run;
    run.job_id = must(s.upsert_job(job), "upsert_job");
    run.definition = R"({"frozen":true})";
    run.trigger = lrsched::store::RunTrigger::manual;
    run.created_at = 2'000;
    return must(s.create_run(run), "create_run").value();
}

}  // namespace

int main(int argc, char** argv) {
    const int rows = argc > 1 ? std::atoi(argv[1]) : 100'000;
    if (rows <= 100) {
        std::fputs("usage: lrsched-store-bench [ROWS > 100]\n", stderr);
        return 1;
    }
    std::string templ = (std::filesystem::temp_directory_path() / "lrsched-bench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::filesystem::path dir(templ);
    {
        auto s = must(Store::open((dir / "lrsched.db").string()), "open");
        const std::int64_t run = make_run(s);
        std::vector<NewSession> machines;
        machines.reserve(static_cast<std::size_t>(rows));
        for (int i = 0; i < rows; ++i) {
            const std::string id = std::to_string(i);
            machines.push_back(
                {std::string(40 - id.size(), '0') + id, "m" + id + ".corp", i % 10 == 0});
        }
        auto t0 = Clock::now();
        must(s.queue_sessions(run, machines, 1'000), "queue_sessions");
        std::printf("[store] queue_sessions(%d) in one batch: %.0f ms\n", rows, ms_since(t0));

        t0 = Clock::now();
        for (int i = 0; i < 100; ++i) {
            const auto next = must(s.oldest_queued(run, false), "oldest_queued");
            if (!next) break;
            must(s.begin_submit(next->id, "contoso", 3'000 + i), "begin_submit");
        }
        std::printf(
            "[store] 100 picks from %d queued (each with its begin_submit commit): %.0f ms\n", rows,
            ms_since(t0));

        t0 = Clock::now();
        const auto counts = must(s.count_by_state(run), "count_by_state");
        std::printf("[store] count_by_state over %d sessions: %.1f ms (%zu states)\n", rows,
                    ms_since(t0), counts.size());
    }
    std::filesystem::remove_all(dir);
    return 0;
}
