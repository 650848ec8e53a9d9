// `lrsched plan JOB`: resolves the job's targets through the machines API
// and prints the count, how many look offline, the run's estimated duration
// (dispatch/estimate.hpp) and what the live response library lacks. Nothing
// is submitted or uploaded. Its tenant client is the daemon's own
// (mde/tenant_client.hpp), so it spends the same read budget. Expected
// load: one machine listing and one library listing per call.
#include "cli/plan.hpp"

#include "api/library.hpp"
#include "common/clock.hpp"
#include "common/diagnostic.hpp"
#include "config/config.hpp"
#include "dispatch/estimate.hpp"
#include "jobs/job_loader.hpp"
#include "jobs/targets.hpp"
#include "mde/tenant_client.hpp"
#include "runtime/library_dir.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"
#include "store/store.hpp"

#include <cstdio>
#include <filesystem>

namespace lrsched::cli {
namespace {

std::string human_ms(Millis ms) {
    const Millis s = ms / 1000;
    char buf[48];
    if (s >= 86400)
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                      static_cast<long long>(s % 86400 / 3600));
    else if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                      static_cast<long long>(s % 3600 / 60));
    else if (s >= 60)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
    else
        std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

// The estimate printed by `plan` (dispatch/estimate.hpp's model): submits
// paced by the rate, online sessions through the slots the offline ones
// leave at the measured session time (`samples`: the job's last runs, else
// the tenant's recent sessions, else the documented 2 minutes, and it says
// which), offline-looking ones through offline_slots.
void print_estimate(const config::Tenant& t,
                    const store::SessionSamples& samples,
                    std::size_t online,
                    std::size_t offline) {
    const dispatch::SessionTimes times = dispatch::session_times(samples);
    dispatch::RunWork work;
    work.queued_online = static_cast<std::int64_t>(online);
    work.queued_offline = static_cast<std::int64_t>(offline);
    const dispatch::Estimate e =
        dispatch::estimate_run(work, times, dispatch::limits_of(t.limits), unix_now());
    const auto& l = t.limits;
    if (e.blocked == dispatch::Blocked::no_offline_slots) {
        std::printf(
            "estimate: none: offline_slots is 0, so the %zu offline-looking machine(s) would "
            "never be submitted (%s)\n",
            offline, dispatch::describe(times).c_str());
        return;
    }
    std::printf("estimate: %s, %s\n", human_ms(e.duration).c_str(),
                dispatch::describe(times).c_str());
    std::printf("  submits: %zu at %lld per %s, the last after %s\n", online + offline,
                static_cast<long long>(l.submit_rate.calls),
                human_ms(l.submit_rate.per.count()).c_str(), human_ms(e.submits).c_str());
    if (online > 0)
        std::printf("  online: %zu session(s) through %d of %d slot(s), done after %s\n", online,
                    e.online_slots, l.concurrent_sessions, human_ms(e.online).c_str());
    if (offline == 0) return;
    const std::string each = e.offline_measured
                                 ? human_ms(e.offline_each) + " each (measured)"
                                 : "up to " + human_ms(e.offline_each) + " each (queue_expiry)";
    if (l.pending_counts_as_running)
        std::printf("  offline-looking: %zu through %d offline slot(s), %s, done after %s\n",
                    offline, l.offline_slots, each.c_str(), human_ms(e.offline).c_str());
    else
        std::printf(
            "  offline-looking: %zu waiting side by side (pending holds no slot), %s, "
            "done after %s\n",
            offline, each.c_str(), human_ms(e.offline).c_str());
}

// What the run would find in the live response library, counting what
// library_dir would upload at its start (without uploading anything).
void plan_library(mde::BlockingClient& api, const config::Tenant* t, const jobs::Job* job) {
    auto library = api.list_library();
    if (!library) {
        std::printf("library: not checked: %s\n", library.error().message.c_str());
        return;
    }
    if (!t->library_dir.empty()) {
        runtime::LibraryDir dir(t->library_dir);
        if (auto scan = dir.scan()) {
            const auto uploads = api::uploads_needed(scan->files, *library);
            for (const std::size_t i : uploads) {
                const api::LocalFile& f = scan->files[i];
                std::printf("library: %s from library_dir would be uploaded at the run's start\n",
                            f.name.c_str());
                api::record_upload(*library, {f.name, f.sha256});
            }
            for (const auto& skipped : scan->skipped)
                std::printf("library: %s in library_dir is skipped: %s\n",
                            quote_value(skipped.name).c_str(), skipped.why.c_str());
        } else {
            std::printf("library: library_dir not read: %s\n", scan.error().message.c_str());
        }
    }
    const auto missing = api::missing_from_library(job->commands, *library);
    if (missing.empty())
        std::printf("library: every PutFile and RunScript file is there\n");
    else
        std::printf("library: %s; the job would be paused until they are there\n",
                    api::library_pause_reason(t->name, missing).c_str());
}

// What `lrsched plan` would see: the machines the job selects (one
// listing, within the read budget the daemon shares through the store),
// how many look offline, the run's estimate, and the library.
void plan_run(mde::BlockingClient& api,
              const config::Tenant* t,
              const jobs::Job* job,
              const store::SessionSamples& samples,
              int& status) {
    auto fleet = api.list_machines();
    if (!fleet) {
        std::fprintf(stderr, "lrsched plan: %s\n", fleet.error().message.c_str());
        return;
    }
    const Millis now = unix_now();
    const std::size_t fleet_size = fleet->size();
    const jobs::Resolution res = jobs::resolve_targets(job->targets, std::move(*fleet));
    std::size_t offline = 0;
    for (const auto& m : res.machines)
        offline += jobs::looks_offline(m, now, t->offline_after.count()) ? 1 : 0;
    std::printf(
        "job %s (tenant %s): %zu machine(s) of %zu in the fleet; %zu look offline; %zu "
        "excluded\n",
        job->name.c_str(), t->name.c_str(), res.machines.size(), fleet_size, offline, res.excluded);
    for (const auto& id : res.unknown_ids)
        std::printf("unknown machine id: %s\n", id.c_str());
    for (const auto& h : res.unknown_hostnames)
        std::printf("unknown host name: %s\n", quote_value(h).c_str());
    print_estimate(*t, samples, res.machines.size() - offline, offline);
    if (api::uses_library(job->commands) || !t->library_dir.empty()) plan_library(api, t, job);
    status = 0;
}

}  // namespace

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
    int status = 1;
    plan_run(**api, t, &*job, samples, status);
    return status;
}

}  // namespace lrsched::cli
