// The text of `lrsched plan` (view/plan.hpp says what it holds). Moved from
// cli/plan.cpp so the running daemon answers it too; the wording is the
// same whichever process made the listings.
#include "view/plan.hpp"

#include "common/diagnostic.hpp"
#include "dispatch/estimate.hpp"
#include "jobs/targets.hpp"

#include <cstdarg>
#include <cstdio>

namespace lrsched::view {
namespace {

// printf into `out`: the plan's lines keep the format they had on stdout.
[[gnu::format(printf, 2, 3)]] void add(std::string& out, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (static_cast<std::size_t>(n) < sizeof buf) {
        out.append(buf, static_cast<std::size_t>(n));
        return;
    }
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    big.pop_back();
    out += big;
}

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

// The estimate (dispatch/estimate.hpp's model): submits paced by the rate,
// online sessions through the slots the offline ones leave at the measured
// session time (the job's last runs, else the tenant's recent sessions,
// else the documented 2 minutes, and it says which), offline-looking ones
// through offline_slots.
void add_estimate(std::string& out,
                  const config::Tenant& t,
                  const store::SessionSamples& samples,
                  std::size_t online,
                  std::size_t offline,
                  Millis now) {
    const dispatch::SessionTimes times = dispatch::session_times(samples);
    dispatch::RunWork work;
    work.queued_online = static_cast<std::int64_t>(online);
    work.queued_offline = static_cast<std::int64_t>(offline);
    const dispatch::Estimate e =
        dispatch::estimate_run(work, times, dispatch::limits_of(t.limits), now);
    const auto& l = t.limits;
    if (e.blocked == dispatch::Blocked::no_offline_slots) {
        add(out,
            "estimate: none: offline_slots is 0, so the %zu offline-looking machine(s) would "
            "never be submitted (%s)\n",
            offline, dispatch::describe(times).c_str());
        return;
    }
    add(out, "estimate: %s, %s\n", human_ms(e.duration).c_str(), dispatch::describe(times).c_str());
    add(out, "  submits: %zu at %lld per %s, the last after %s\n", online + offline,
        static_cast<long long>(l.submit_rate.calls), human_ms(l.submit_rate.per.count()).c_str(),
        human_ms(e.submits).c_str());
    if (online > 0)
        add(out, "  online: %zu session(s) through %d of %d slot(s), done after %s\n", online,
            e.online_slots, l.concurrent_sessions, human_ms(e.online).c_str());
    if (offline == 0) return;
    const std::string each = e.offline_measured
                                 ? human_ms(e.offline_each) + " each (measured)"
                                 : "up to " + human_ms(e.offline_each) + " each (queue_expiry)";
    if (l.pending_counts_as_running)
        add(out, "  offline-looking: %zu through %d offline slot(s), %s, done after %s\n", offline,
            l.offline_slots, each.c_str(), human_ms(e.offline).c_str());
    else
        add(out,
            "  offline-looking: %zu waiting side by side (pending holds no slot), %s, "
            "done after %s\n",
            offline, each.c_str(), human_ms(e.offline).c_str());
}

// What the run would find in the live response library, counting what
// library_dir would upload at its start (without uploading anything).
void add_library(std::string& out, PlanInputs& in) {
    auto& library = *in.library;
    if (!library) {
        add(out, "library: not checked: %s\n", library.error().message.c_str());
        return;
    }
    if (in.library_dir) {
        if (*in.library_dir) {
            const auto& scan = **in.library_dir;
            for (const std::size_t i : api::uploads_needed(scan.files, *library)) {
                const api::LocalFile& f = scan.files[i];
                add(out, "library: %s from library_dir would be uploaded at the run's start\n",
                    f.name.c_str());
                api::record_upload(*library, {f.name, f.sha256});
            }
            for (const auto& skipped : scan.skipped)
                add(out, "library: %s in library_dir is skipped: %s\n",
                    quote_value(skipped.name).c_str(), skipped.why.c_str());
        } else {
            add(out, "library: library_dir not read: %s\n",
                in.library_dir->error().message.c_str());
        }
    }
    const auto missing = api::missing_from_library(in.job->commands, *library);
    if (missing.empty())
        add(out, "library: every PutFile and RunScript file is there\n");
    else
        add(out, "library: %s; the job would be paused until they are there\n",
            api::library_pause_reason(in.tenant->name, missing).c_str());
}

}  // namespace

bool plan_needs_library(const config::Tenant& t, const jobs::Job& job) {
    return api::uses_library(job.commands) || !t.library_dir.empty();
}

std::string plan_text(PlanInputs in, Millis now) {
    std::string out;
    const config::Tenant& t = *in.tenant;
    const jobs::Job& job = *in.job;
    const std::size_t fleet_size = in.fleet.size();
    const jobs::Resolution res = jobs::resolve_targets(job.targets, std::move(in.fleet));
    std::size_t offline = 0;
    for (const auto& m : res.machines)
        offline += jobs::looks_offline(m, now, t.offline_after.count()) ? 1 : 0;
    add(out,
        "job %s (tenant %s): %zu machine(s) of %zu in the fleet; %zu look offline; %zu excluded\n",
        job.name.c_str(), t.name.c_str(), res.machines.size(), fleet_size, offline, res.excluded);
    for (const auto& id : res.unknown_ids)
        add(out, "unknown machine id: %s\n", id.c_str());
    for (const auto& h : res.unknown_hostnames)
        add(out, "unknown host name: %s\n", quote_value(h).c_str());
    add_estimate(out, t, in.samples, res.machines.size() - offline, offline, now);
    if (in.library) add_library(out, in);
    return out;
}

}  // namespace lrsched::view
