// `lrsched plan JOB` when no daemon runs: the listings through a tenant
// client of the daemon's own kind (mde/tenant_client.hpp), which spends the
// read budget kept in the store, and the text of view/plan.hpp. With the
// daemon running, the CLI asks it instead (cli/control_cmds.cpp). Expected
// load: one machine listing and one library listing per call.
#include "cli/plan.hpp"

#include "common/clock.hpp"
#include "common/diagnostic.hpp"
#include "config/config.hpp"
#include "jobs/job_loader.hpp"
#include "mde/tenant_client.hpp"
#include "runtime/library_dir.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"
#include "store/store.hpp"
#include "view/plan.hpp"

#include <cstdio>
#include <filesystem>

namespace lrsched::cli {

int run_plan(const std::string& config_path, const std::string& job_ref) {
    Diagnostics diags;
    auto cfg = config::load_config(config_path, diags);
    std::fputs(diags.to_string().c_str(), stderr);
    if (!cfg) return 1;
    jobs::JobContext ctx{cfg->jobs_dir, {}};
    for (const auto& t : cfg->tenants)
        ctx.tenants.push_back(t.name);
    std::string path = job_ref;
    if (!std::filesystem::exists(path)) {
        path = cfg->jobs_dir + "/" + job_ref + ".yaml";
        if (!std::filesystem::exists(path)) path = cfg->jobs_dir + "/" + job_ref + ".yml";
    }
    Diagnostics job_diags;
    auto job = jobs::load_job(path, ctx, job_diags);
    std::fputs(job_diags.to_string().c_str(), stderr);
    if (!job) return 1;
    const config::Tenant* t = cfg->find_tenant(job->tenant);
    if (!t) {
        std::fprintf(stderr, "lrsched plan: tenant %s is not configured\n", job->tenant.c_str());
        return 1;
    }
    std::filesystem::create_directories(cfg->state_dir);
    // The read budget is shared with a running daemon through the store.
    auto st = store::Store::open(store::database_path(cfg->state_dir));
    if (!st) {
        std::fprintf(stderr, "lrsched plan: %s\n", st.error().message.c_str());
        return 1;
    }
    // The estimate's measured session times, read as `status` reads them.
    store::SessionSamples samples;
    auto report = store::Report::open(store::database_path(cfg->state_dir));
    auto read = report ? report->session_samples(job->name, t->name)
                       : Result<store::SessionSamples>(report.error());
    if (read)
        samples = std::move(*read);
    else
        std::fprintf(stderr, "lrsched plan: session times not read: %s\n",
                     read.error().message.c_str());
    auto api = mde::BlockingClient::open(*t, *st);
    if (!api) {
        std::fprintf(stderr, "lrsched plan: %s\n", api.error().message.c_str());
        return 1;
    }
    view::PlanInputs in;
    in.tenant = t;
    in.job = &*job;
    in.samples = std::move(samples);
    auto fleet = (*api)->list_machines();
    if (!fleet) {
        std::fprintf(stderr, "lrsched plan: %s\n", fleet.error().message.c_str());
        return 1;
    }
    in.fleet = std::move(*fleet);
    if (view::plan_needs_library(*t, *job)) {
        in.library = (*api)->list_library();
        if (*in.library && !t->library_dir.empty()) {
            runtime::LibraryDir dir(t->library_dir);
            in.library_dir = dir.scan();
        }
    }
    std::fputs(view::plan_text(std::move(in), unix_now()).c_str(), stdout);
    return 0;
}

}  // namespace lrsched::cli
