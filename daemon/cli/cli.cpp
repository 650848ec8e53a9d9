#include "cli/cli.hpp"

#include "cli/args.hpp"
#include "cli/control_cmds.hpp"
#include "cli/report_cmds.hpp"
#include "cli/results_cmds.hpp"
#include "common/diagnostic.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "config/credential.hpp"
#include "evidence/manifest.hpp"
#include "jobs/job_loader.hpp"
#include "jobs/registry.hpp"
#include "runtime/daemon.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace lrsched::cli {
namespace {

constexpr const char* kUsage =
    "usage: lrsched COMMAND [ARGS] [-c FILE]\n"
    "\n"
    "commands:\n"
    "  validate FILE...        check job files; with -c, also the configuration and its secrets\n"
    "                          (with -c and no FILE: every job in jobs_dir)\n"
    "  daemon                  run the daemon in the foreground (SIGTERM stops it)\n"
    "  plan JOB                resolve the job's targets and estimate the run's duration\n"
    "                          (through the daemon when it runs: it shares its read budget)\n"
    "  status [JOB] [--json]   jobs, latest runs, progress, sessions by state, ETA, errors;\n"
    "                          tenants' calls in the last minute and slot use\n"
    "  sessions JOB [--state S] [--json]\n"
    "                          the sessions of JOB's latest run, one line each\n"
    "                          (status and sessions read state_dir when no daemon runs)\n"
    "  run JOB                 start a run of JOB now\n"
    "  pause JOB, resume JOB   stop / restart dispatching JOB's sessions\n"
    "  cancel JOB [--machine ID]\n"
    "                          cancel queued sessions and the server actions in flight\n"
    "  reload                  re-read the configuration and the jobs (also SIGHUP)\n"
    "  verify RUN_FOLDER [--digest HEX]\n"
    "                          re-hash a run's evidence against its manifest.jsonl and\n"
    "                          check the manifest's hash chain (and its last hash)\n"
    "\n"
    "options: -c, --config FILE (default /etc/lrsched/lrsched.yaml), --json, --state S,\n"
    "         --machine ID, --digest HEX, --run N, --format F, --show, -h, --help, --version\n"
    "exit status: 0 ok, 1 user error, 2 daemon unreachable (status and sessions with no\n"
    "daemon: its database cannot be read)\n";

std::string summary(const jobs::Job& job) {
    const auto& in = job.targets.include;
    std::string s = "job " + job.name + (job.tenant.empty() ? "" : " (tenant " + job.tenant + ")") +
                    ": " + std::to_string(job.commands.size()) + " command(s); targets: ";
    std::vector<std::string> parts;
    const auto count = [&](std::size_t n, const char* what) {
        if (n) parts.push_back(std::to_string(n) + " " + what);
    };
    count(in.machines.size(), "machine id(s)");
    count(in.hostnames.size(), "host name(s)");
    count(in.tags.size(), "tag(s)");
    count(in.groups.size(), "group(s)");
    for (std::size_t i = 0; i < parts.size(); ++i)
        s += (i ? ", " : "") + parts[i];
    if (!job.targets.os.empty())
        s += " on " + std::to_string(job.targets.os.size()) + " OS platform(s)";
    if (job.schedule.cron) {
        const auto next =
            job.schedule.cron->next_after(std::chrono::system_clock::now(), job.schedule.tz);
        std::string firing = ", never fires";
        if (next) {
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(next->time_since_epoch());
            firing = ", next firing " + utc_iso8601(ms.count(), TimePrecision::minutes);
        }
        s += "; cron \"" + job.schedule.cron->text() + "\"" +
             (job.schedule.tz == jobs::TimeZone::local ? " local" : " UTC") + firing;
    } else {
        s += "; runs once when loaded";
    }
    return s;
}

int cmd_verify(const Args& args) {
    if (args.positional.size() != 1) {
        std::fputs("lrsched verify: name one run folder\n", stderr);
        return 1;
    }
    const std::string& dir = args.positional[0];
    auto report = evidence::verify_run_folder(dir, args.digest);
    if (!report) {
        std::fprintf(stderr, "lrsched verify: %s\n", report.error().message.c_str());
        return 1;
    }
    // Every name below was quoted by verify_run_folder: nothing read from
    // the manifest or the folder can start a line of its own.
    for (const auto& e : report->errors)
        std::printf("error: %s\n", e.c_str());
    if (report->error_count > report->errors.size())
        std::printf("error: %zu more manifest error(s) not shown\n",
                    report->error_count - report->errors.size());
    for (const auto& f : report->missing)
        std::printf("missing: %s\n", f.c_str());
    for (const auto& f : report->altered)
        std::printf("altered: %s\n", f.c_str());
    for (const auto& f : report->extra)
        std::printf("extra: %s\n", f.c_str());
    for (const auto& b : report->breaks)
        std::printf("chain: %s\n", b.c_str());
    if (report->break_count > report->breaks.size())
        std::printf("chain: %zu more break(s) not shown\n",
                    report->break_count - report->breaks.size());
    if (report->digest_ok == false)
        std::printf("digest: the last line hashes to %s, not %s\n",
                    report->digest.empty() ? "nothing (no line)" : report->digest.c_str(),
                    quote_value(*args.digest).c_str());
    std::printf("chain: %s, %s; digest %s\n", report->chain.c_str(),
                report->break_count == 0 ? "intact" : "BROKEN",
                report->digest.empty() ? "none" : report->digest.c_str());
    std::printf(
        "%s: %zu file(s) verified; %zu missing, %zu altered, %zu extra, %zu manifest "
        "error(s)\n",
        dir.c_str(), report->verified, report->missing.size(), report->altered.size(),
        report->extra.size(), report->error_count);
    return report->clean() ? 0 : 1;
}

int cmd_validate(const Args& args) {
    jobs::JobContext ctx;
    std::vector<std::string> files = args.positional;
    bool ok = true;
    if (args.config) {
        Diagnostics diags;
        auto cfg = config::load_config(*args.config, diags);
        std::fputs(diags.to_string().c_str(), stderr);
        if (!cfg) return 1;
        const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
        for (const auto& t : cfg->tenants) {
            // At the tenant's entry: the credential's files are named there.
            const auto report = [&](Severity sev, const std::string& message) {
                Diagnostic d{t.where, sev, message};
                if (d.where.line <= 0) d.where = {cfg->path, 1, 1};
                std::fprintf(stderr, "%s\n", d.to_string().c_str());
                if (sev == Severity::error) ok = false;
            };
            auto credential = config::read_credential(t, creds ? creds : "");
            if (!credential) {
                report(Severity::error, credential.error().message);
            } else if (const auto* cert = credential->certificate()) {
                const auto check = config::certificate_check(*cert, unix_now() / 1000);
                if (check.failed())
                    report(Severity::error, "tenant " + t.name + ": " + check.message);
                else if (!check.message.empty())
                    report(Severity::warning, "tenant " + t.name + ": " + check.message);
            }
        }
        ctx.jobs_dir = cfg->jobs_dir;
        for (const auto& t : cfg->tenants)
            ctx.tenants.push_back(t.name);
        if (files.empty()) {
            auto listed = jobs::list_job_files(cfg->jobs_dir);
            if (!listed) {
                std::fprintf(stderr, "%s:1:1: jobs_dir: %s\n", cfg->path.c_str(),
                             listed.error().message.c_str());
                return 1;
            }
            files = std::move(*listed);
        }
        if (ok)
            std::printf("%s: ok: %zu tenant(s), jobs in %s\n", cfg->path.c_str(),
                        cfg->tenants.size(), cfg->jobs_dir.c_str());
    } else if (files.empty()) {
        std::fputs("lrsched validate: name job files to check, or a configuration with -c\n",
                   stderr);
        return 1;
    }
    for (const auto& file : files) {
        Diagnostics diags;
        auto loaded = jobs::load_job_file(file, ctx, diags);  // the daemon's own load path
        std::fputs(diags.to_string().c_str(), stderr);
        if (loaded)
            std::printf("%s: ok: %s\n", file.c_str(), summary(loaded->job).c_str());
        else
            ok = false;
    }
    return ok ? 0 : 1;
}

}  // namespace

int run(int argc, char** argv) {
    auto parsed = parse_args(std::vector<std::string>(argv, argv + argc));
    if (!parsed) {
        std::fprintf(stderr, "lrsched: %s\n%s", parsed.error().message.c_str(), kUsage);
        return 1;
    }
    const Args& args = *parsed;
    if (args.version) {
        std::puts("lrsched 0.1.0");
        return 0;
    }
    if (args.help || args.command.empty() || args.command == "help") {
        std::fputs(kUsage, args.help || args.command == "help" ? stdout : stderr);
        return args.help || args.command == "help" ? 0 : 1;
    }
    if (args.command == "validate") return cmd_validate(args);
    if (args.command == "verify") return cmd_verify(args);
    if (args.command == "daemon") {
        if (!args.positional.empty()) {
            std::fputs("lrsched daemon: takes no arguments besides -c FILE\n", stderr);
            return 1;
        }
        return runtime::run_daemon(args.config.value_or(config::kDefaultConfigPath));
    }
    if (args.command == "plan") return cmd_plan(args);
    if (args.command == "status") return cmd_status(args);
    if (args.command == "sessions") return cmd_sessions(args);
    if (args.command == "results") return cmd_results(args);
    if (args.command == "diff") return cmd_diff(args);
    if (args.command == "stack") return cmd_stack(args);
    static constexpr const char* kControl[] = {"run", "pause", "resume", "cancel", "reload"};
    if (std::find_if(std::begin(kControl), std::end(kControl),
                     [&](const char* c) { return args.command == c; }) != std::end(kControl))
        return cmd_control(args);
    std::fprintf(stderr, "lrsched: unknown command `%s`\n%s", args.command.c_str(), kUsage);
    return 1;
}

}  // namespace lrsched::cli
