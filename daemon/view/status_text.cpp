// The text of `status` and `sessions` (status_text.hpp). Moved here from the
// CLI so the daemon serves the same text over the control socket; the JSON
// forms are overview.cpp's.
#include "view/status_text.hpp"

#include "common/diagnostic.hpp"
#include "common/duration.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

namespace lrsched::view {
namespace {

using nlohmann::json;
using store::JobReport;
using store::RunReport;
using store::SessionRow;
using store::TenantReport;

constexpr std::size_t kErrorWidth = 80;  // text only; the JSON keeps the whole message

// One line of text, whatever the server or a file put in it: control
// characters become spaces, and past `width` bytes it is cut (never inside
// a UTF-8 sequence) and marked.
std::string one_line(std::string_view text, std::size_t width) {
    std::string out;
    for (const char c : text)
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    if (out.size() <= width) return out;
    std::size_t cut = width;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
        --cut;
    return out.substr(0, cut) + "...";
}

std::string text_or(const std::optional<std::string>& v, const char* none) {
    return v ? one_line(*v, kErrorWidth) : none;
}

std::string num(std::int64_t n) {
    return std::to_string(n);
}

std::string state_counts_text(const RunReport& run) {
    std::string out;
    for (const auto& [state, n] : run.counts) {
        if (n == 0) continue;
        out += (out.empty() ? "" : ", ") + std::string(to_string(state)) + " " + num(n);
    }
    return out.empty() ? "no sessions" : out;
}

// The machines a run named but the API did not list ({"ids": [...],
// "hostnames": [...]}), as "2 machine id(s), 1 host name(s)"; empty if none.
std::string unresolved_text(const RunReport& run) {
    if (!run.unresolved) return {};
    const json j = json::parse(*run.unresolved, nullptr, false);
    if (!j.is_object()) return {};
    std::string out;
    for (const auto& [key, what] :
         {std::pair{"ids", " machine id(s)"}, {"hostnames", " host name(s)"}}) {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_array() || it->empty()) continue;
        out += (out.empty() ? "" : ", ") + std::to_string(it->size()) + what;
    }
    return out;
}

std::string job_text(const JobReport& job, const Eta& eta) {
    const std::string deleted =
        job.deleted_at ? " - job file deleted " + utc_iso8601(*job.deleted_at) : "";
    const std::string paused =
        job.paused ? "yes: " + text_or(job.paused_reason, "no reason given") : "no";
    const std::string error = job.last_error ? utc_iso8601(job.last_error_at.value_or(0)) + " " +
                                                   one_line(*job.last_error, kErrorWidth)
                                             : "none";
    const std::string tenant =
        job.tenant.empty() ? "tenant unknown: never loaded" : "tenant " + job.tenant;
    std::string out = "job " + job.name + " (" + tenant + ")" + deleted + "\n";
    out += "  paused: " + paused + "\n  last error: " + error + "\n";
    if (!job.latest_run) return out + "  latest run: none yet\n";
    const RunReport& run = *job.latest_run;
    const std::string finished =
        run.finished_at ? ", finished " + utc_iso8601(*run.finished_at) : "";
    out += "  latest run: " + num(run.id) + " (" + std::string(to_string(run.trigger)) +
           "), created " + utc_iso8601(run.created_at) + finished + "\n";
    out +=
        "  progress: " + num(run.finished()) + " of " + num(run.total()) + " sessions finished\n";
    out += "  " + progress_bar(run.finished(), run.total()) + "\n";
    out += "  states: " + state_counts_text(run) + "\n";
    if (const std::string missing = unresolved_text(run); !missing.empty())
        out += "  not listed by the API: " + missing + "\n";
    if (!run.finished_at) out += "  eta: " + eta.text + "\n";
    // Hex as the daemon wrote it; anything else (an edited store) is quoted.
    if (run.digest) {
        const bool hex = std::all_of(run.digest->begin(), run.digest->end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        });
        out += "  digest: " + (hex ? *run.digest : quote_value(*run.digest)) + "\n";
    }
    for (const auto& h : run.hooks)
        out += "  on_finish " + quote_value(h.kind) + ": " + (h.ok ? "ok" : "FAILED") + ", " +
               quote_value(h.detail, 120) + "\n";
    return out;
}

// "; slots 12/25 (offline 2/5)" from the running daemon's figures.
std::string slots_text(const TenantLive& t) {
    return "; slots " + std::to_string(t.slots_held) + "/" + std::to_string(t.slot_limit) +
           " (offline " + std::to_string(t.slots_held_offline) + "/" +
           std::to_string(t.offline_slots) + ")";
}

std::string tenant_text(const TenantReport& t,
                        const config::Config& cfg,
                        const TenantLive* live,
                        std::int64_t now) {
    const config::Tenant* configured = cfg.find_tenant(t.name);
    const std::string limit =
        configured ? " (limit " + std::to_string(configured->limits.submit_rate.calls) + " per " +
                         format_duration(configured->limits.submit_rate.per) + ")"
                   : " (not configured)";
    std::string out = "tenant " + t.name + ": " + num(t.submit_calls_last_minute) +
                      " submit call(s) in the last minute" + limit + ", " +
                      num(t.read_calls_last_minute) + " read call(s); running " + num(t.running) +
                      ", pending " + num(t.pending) + ", submitting " + num(t.submitting);
    if (live) out += slots_text(*live);
    if (live && live->certificate) {
        const CertificateLive& c = *live->certificate;
        out += "; certificate " + c.thumbprint + " until " + utc_iso8601(c.not_after);
        if (!c.warning.empty()) out += "; WARNING: " + one_line(c.warning, kErrorWidth);
    }
    if (t.paused) out += "; paused: " + text_or(t.paused_reason, "no reason given");
    if (t.throttled_until && *t.throttled_until > now)
        out += "; throttled until " + utc_iso8601(*t.throttled_until);
    if (t.last_error)
        out += "; no answer since " + utc_iso8601(t.last_error_since.value_or(now)) + ": " +
               one_line(*t.last_error, kErrorWidth);
    return out + "\n";
}

// Columns padded to `widths` (negative: right-aligned), two spaces apart,
// with no trailing white space.
std::string columns(const std::vector<std::string>& cells, const std::vector<int>& widths) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const int w = i < widths.size() ? widths[i] : 0;
        const auto width = static_cast<std::size_t>(w < 0 ? -w : w);
        const std::string fill(cells[i].size() < width ? width - cells[i].size() : 0, ' ');
        line += (i ? "  " : "") + (w < 0 ? fill + cells[i] : cells[i] + fill);
    }
    return line.substr(0, line.find_last_not_of(' ') + 1);
}

const std::vector<int> kSessionWidths{32, 40, 10, -7, 36, -4};

std::string session_text(const SessionRow& s) {
    return columns({one_line(s.computer_dns_name.value_or(s.machine_id), 253),
                    one_line(s.machine_id, 64), std::string(to_string(s.state)),
                    std::to_string(s.attempt), text_or(s.action_id, "-"),
                    s.exit_code ? std::to_string(*s.exit_code) : "-", text_or(s.last_error, "")},
                   kSessionWidths) +
           "\n";
}

}  // namespace

std::string progress_bar(std::int64_t finished, std::int64_t total, int width) {
    finished = std::clamp<std::int64_t>(finished, 0, std::max<std::int64_t>(total, 0));
    const std::int64_t percent = total > 0 ? finished * 100 / total : 0;
    const std::int64_t filled = total > 0 ? finished * width / total : 0;
    std::string pct = std::to_string(percent) + "%";
    pct.insert(0, pct.size() < 4 ? 4 - pct.size() : 0, ' ');
    return "[" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(width - filled), '.') + "] " + pct + "  " +
           num(finished) + "/" + num(total);
}

std::string status_text(const Overview& o, const config::Config& cfg) {
    const store::StatusReport& status = o.status;
    std::string out;
    if (status.jobs.empty()) out += "no jobs yet\n";
    for (std::size_t i = 0; i < status.jobs.size(); ++i)
        out += job_text(status.jobs[i], i < o.etas.size() ? o.etas[i] : Eta{}) + "\n";
    for (const TenantReport& t : status.tenants) {
        const TenantLive* live = nullptr;
        if (o.live) {
            const auto it = std::find_if(o.live->tenants.begin(), o.live->tenants.end(),
                                         [&](const TenantLive& l) { return l.name == t.name; });
            if (it != o.live->tenants.end()) live = &*it;
        }
        out += tenant_text(t, cfg, live, status.now);
    }
    return out;
}

std::string sessions_text(const store::SessionsReport& listed) {
    if (!listed.job.latest_run) return "job " + listed.job.name + " has not run yet\n";
    std::string out =
        columns({"MACHINE", "MACHINE ID", "STATE", "ATTEMPT", "ACTION", "EXIT", "LAST ERROR"},
                kSessionWidths) +
        "\n";
    for (const SessionRow& s : listed.sessions)
        out += session_text(s);
    return out;
}

}  // namespace lrsched::view
