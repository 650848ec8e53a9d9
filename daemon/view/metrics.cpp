#include "view/metrics.hpp"

#include "sessions/session_state.hpp"

#include <cstdio>
#include <initializer_list>
#include <utility>

namespace lrsched::view {
namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// The length of the valid UTF-8 sequence at s[i], or 0 when there is none
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (b(1) < lo || b(1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(k) < 0x80 || b(k) > 0xbf) return 0;
    return n;
}

std::string number(std::uint64_t v) {
    return std::to_string(v);
}
std::string number(std::int64_t v) {
    return std::to_string(v);
}
// Seconds from milliseconds, to the millisecond.
std::string seconds(Millis ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
    return buf;
}

// A window's length as its label: "60s", "1h" would be ambiguous across
// configurations written differently, so always seconds (or ms below one).
std::string window_label(std::int64_t per_ms) {
    return per_ms % 1000 == 0 ? std::to_string(per_ms / 1000) + "s" : std::to_string(per_ms) + "ms";
}

class Text {
  public:
    // Opens a family: its HELP and TYPE lines, once.
    void family(std::string_view name, std::string_view type, std::string_view help) {
        name_ = name;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;  // our own words: no escaping needed
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    // One sample of the family last opened.
    void sample(Labels labels, const std::string& value) {
        out_ += name_;
        if (labels.size() > 0) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += k;
                out_ += "=\"";
                out_ += escape_label_value(v);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
    std::string name_;
};

using TenantValue = std::string (*)(const TenantLive&);

// A gauge or counter with one sample per tenant of the live figures.
void per_tenant(Text& t,
                const Overview& o,
                std::string_view name,
                std::string_view type,
                std::string_view help,
                TenantValue value) {
    t.family(name, type, help);
    if (!o.live) return;
    for (const TenantLive& tl : o.live->tenants)
        t.sample({{"tenant", tl.name}}, value(tl));
}

void windows(Text& t, const Overview& o, std::string_view what, bool submit) {
    const std::string calls = "lrsched_" + std::string(what) + "_window_calls";
    const std::string limit = "lrsched_" + std::string(what) + "_window_limit";
    const auto of = [submit](const TenantLive& tl) -> const std::vector<WindowUse>& {
        return submit ? tl.submit_windows : tl.read_windows;
    };
    t.family(calls, "gauge",
             "Calls in the sliding window ending now, in flight included (" + std::string(what) +
                 " limit).");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            for (const WindowUse& w : of(tl))
                t.sample({{"tenant", tl.name}, {"window", window_label(w.per_ms)}},
                         number(w.calls));
    t.family(limit, "gauge", "Most calls the sliding window may hold (" + std::string(what) + ").");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            for (const WindowUse& w : of(tl))
                t.sample({{"tenant", tl.name}, {"window", window_label(w.per_ms)}},
                         number(w.limit));
}

void session_families(Text& t, const Overview& o) {
    t.family("lrsched_sessions", "gauge",
             "Sessions of each job's latest run by state (every state, zeros included).");
    for (const store::JobReport& j : o.status.jobs)
        for (const sessions::SessionState s : sessions::kAllStates) {
            std::int64_t n = 0;
            if (j.latest_run)
                if (const auto it = j.latest_run->counts.find(s); it != j.latest_run->counts.end())
                    n = it->second;
            t.sample({{"tenant", j.tenant}, {"job", j.name}, {"state", sessions::to_string(s)}},
                     number(n));
        }
    t.family("lrsched_queue_depth", "gauge",
             "Queued sessions of each job's latest run, waiting for a rate token and a slot.");
    for (const store::JobReport& j : o.status.jobs) {
        std::int64_t n = 0;
        if (j.latest_run)
            if (const auto it = j.latest_run->counts.find(sessions::SessionState::queued);
                it != j.latest_run->counts.end())
                n = it->second;
        t.sample({{"tenant", j.tenant}, {"job", j.name}}, number(n));
    }
    t.family("lrsched_job_paused", "gauge", "1 while the job is paused.");
    for (const store::JobReport& j : o.status.jobs)
        t.sample({{"job", j.name}}, j.paused ? "1" : "0");
}

void api_families(Text& t, const Overview& o) {
    t.family("lrsched_api_calls_total", "counter",
             "API calls since start-up by endpoint and answer (HTTP status, or error for none).");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            for (const auto& [endpoint, codes] : tl.api_calls)
                for (const auto& [code, n] : codes)
                    t.sample({{"tenant", tl.name}, {"endpoint", endpoint}, {"code", code}},
                             number(n));
    t.family(
        "lrsched_api_throttled_total", "counter",
        "Answers 429 since start-up by the limit they hit: submit_window, read_window, other.");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            for (const std::string_view cause : {"submit_window", "read_window", "other"}) {
                const auto it = tl.throttled.find(std::string(cause));
                t.sample({{"tenant", tl.name}, {"cause", cause}},
                         number(it == tl.throttled.end() ? std::uint64_t{0} : it->second));
            }
    per_tenant(t, o, "lrsched_token_fetches_total", "counter", "Token requests since start-up.",
               [](const TenantLive& tl) { return number(tl.token_fetches); });
    windows(t, o, "submit", true);
    windows(t, o, "read", false);
}

void tenant_families(Text& t, const Overview& o) {
    per_tenant(t, o, "lrsched_slots_in_use", "gauge",
               "Concurrency slots held by sessions on the server.",
               [](const TenantLive& tl) { return number(std::int64_t{tl.slots_held}); });
    per_tenant(t, o, "lrsched_slots_offline", "gauge",
               "Slots held by sessions sent to offline-looking machines.",
               [](const TenantLive& tl) { return number(std::int64_t{tl.slots_held_offline}); });
    per_tenant(t, o, "lrsched_slots_limit", "gauge", "The tenant's concurrent_sessions.",
               [](const TenantLive& tl) { return number(std::int64_t{tl.slot_limit}); });
    per_tenant(t, o, "lrsched_slots_offline_limit", "gauge", "The tenant's offline_slots.",
               [](const TenantLive& tl) { return number(std::int64_t{tl.offline_slots}); });
    per_tenant(t, o, "lrsched_result_files_total", "counter", "Result files stored since start-up.",
               [](const TenantLive& tl) { return number(tl.result_files); });
    per_tenant(t, o, "lrsched_result_bytes_total", "counter",
               "Bytes of result files stored since start-up.",
               [](const TenantLive& tl) { return number(tl.result_bytes); });
    t.family("lrsched_seconds_since_last_poll", "gauge",
             "Seconds since the last successful listing of actions (absent before the first).");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            if (tl.last_poll) t.sample({{"tenant", tl.name}}, seconds(o.live->at - *tl.last_poll));
    t.family("lrsched_certificate_expiry_seconds", "gauge",
             "When the tenant's client certificate expires, in Unix seconds (tenants with a "
             "certificate credential).");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            if (tl.certificate) t.sample({{"tenant", tl.name}}, seconds(tl.certificate->not_after));
    t.family("lrsched_certificate_expiring", "gauge",
             "1 within 30 days of the client certificate's end, after it or before its start.");
    if (o.live)
        for (const TenantLive& tl : o.live->tenants)
            if (tl.certificate)
                t.sample({{"tenant", tl.name}}, tl.certificate->warning.empty() ? "0" : "1");
    // Paused by the daemon (credentials) or recorded so in the store.
    t.family("lrsched_tenant_paused", "gauge", "1 while the tenant is paused.");
    if (o.live) {
        for (const TenantLive& tl : o.live->tenants)
            t.sample({{"tenant", tl.name}}, tl.paused ? "1" : "0");
    } else {
        for (const store::TenantReport& tr : o.status.tenants)
            t.sample({{"tenant", tr.name}}, tr.paused ? "1" : "0");
    }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size();) {
        const char c = value[i];
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            const std::size_t n = utf8_length(value, i);
            if (n == 0) {
                out += "\xef\xbf\xbd";  // U+FFFD
                ++i;
                continue;
            }
            out.append(value, i, n);
            i += n;
            continue;
        }
        ++i;
    }
    return out;
}

std::string prometheus_text(const Overview& o) {
    Text t;
    t.family("lrsched_build_info", "gauge", "Always 1; the labels say which build runs.");
    t.sample({{"version", kVersion}, {"compiler", __VERSION__}}, "1");
    t.family("lrsched_start_time_seconds", "gauge", "When the daemon started, in Unix seconds.");
    if (o.live) t.sample({}, seconds(o.live->started_at));
    session_families(t, o);
    api_families(t, o);
    tenant_families(t, o);
    return t.take();
}

}  // namespace lrsched::view
