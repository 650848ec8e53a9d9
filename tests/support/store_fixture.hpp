// Helpers for tests of the store: the job and run a session needs.
#pragma once

#include "store/store.hpp"
#include "support/unwrap.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace lrsched::test {

inline store::JobRow sample_job(std::string name) {
    store::JobRow job;
    job.name = std::move(name);
    job.tenant = "contoso";
    job.definition = R"({"commands":[{"type":"GetFile","path":"C:\\x.log"}]})";
    job.source_path = "/etc/lrsched/jobs/" + job.name + ".yaml";
    job.source_sha256 = std::string(64, 'a');
    job.loaded_at = 1'000;
    return job;
}

// A new job named `job_name` (or the existing one) and a new manual run of it.
inline std::int64_t make_run(store::Store& s, const std::string& job_name = "sweep") {
    const std::int64_t job_id = unwrap(s.upsert_job(sample_job(job_name)));
    store::NewRun run;
    run.job_id = job_id;
    run.definition = R"({"frozen":true})";
    run.trigger = store::RunTrigger::manual;
    run.created_at = 2'000;
    return unwrap(s.create_run(run)).value();
}

}  // namespace lrsched::test
