// The Prometheus text of view/metrics.hpp, read back with a checker of the
// exposition format 0.0.4 (not substring matches): every line is a comment
// or `name{labels} value`, each family has one HELP and one TYPE before its
// samples, no series twice, label values escaped, the states' zeros there.
#include "view/metrics.hpp"

#include "sessions/session_state.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>

using lrsched::view::Live;
using lrsched::view::Overview;
using lrsched::view::prometheus_text;
using lrsched::view::TenantLive;

namespace {

// One sample: the family's name and its labels as `k=v` (unescaped) sorted.
struct Parsed {
    std::map<std::string, std::string> types;  // family -> type
    std::map<std::string, double> series;      // "name{k=v,...}" -> value
    std::map<std::string, std::vector<std::map<std::string, std::string>>> labels;  // by name
};

bool is_name(const std::string& s, bool label) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const bool ok =
            std::isalpha(c) || c == '_' || (!label && c == ':') || (i > 0 && std::isdigit(c));
        if (!ok) return false;
    }
    return true;
}

// Parses `text` or fails the test naming the line.
Parsed parse_exposition(const std::string& text) {
    Parsed p;
    REQUIRE(!text.empty());
    REQUIRE(text.back() == '\n');
    std::set<std::string> helps;
    std::string current;  // the family whose samples may follow
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        CAPTURE(n);
        CAPTURE(line);
        REQUIRE(!line.empty());
        if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
            const bool help = line[2] == 'H';
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            REQUIRE(is_name(name, false));
            REQUIRE(rest.size() > name.size() + 1);
            if (help) {
                REQUIRE(helps.insert(name).second);  // HELP once
            } else {
                const std::string type = rest.substr(name.size() + 1);
                REQUIRE((type == "counter" || type == "gauge"));
                REQUIRE(p.types.emplace(name, type).second);  // TYPE once
                REQUIRE(helps.count(name) == 1);              // HELP first
                current = name;
            }
            continue;
        }
        REQUIRE(line[0] != '#');
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            ++i;
        const std::string name = line.substr(0, i);
        REQUIRE(is_name(name, false));
        REQUIRE(name == current);  // a family's samples follow its TYPE
        std::map<std::string, std::string> labels;
        if (line[i] == '{') {
            ++i;
            while (line.at(i) != '}') {
                const std::size_t eq = line.find('=', i);
                REQUIRE(eq != std::string::npos);
                const std::string key = line.substr(i, eq - i);
                REQUIRE(is_name(key, true));
                REQUIRE(line.at(eq + 1) == '"');
                std::string value;
                std::size_t j = eq + 2;
                for (;; ++j) {
                    const char c = line.at(j);
                    if (c == '"') break;
                    if (c == '\\') {
                        const char e = line.at(++j);
                        REQUIRE((e == '\\' || e == '"' || e == 'n'));
                        value += e == 'n' ? '\n' : e;
                    } else {
                        value += c;
                    }
                }
                REQUIRE(labels.emplace(key, value).second);
                i = j + 1;
                if (line.at(i) == ',') ++i;
            }
            ++i;
        }
        REQUIRE(line.at(i) == ' ');
        const std::string value = line.substr(i + 1);
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        REQUIRE(!value.empty());
        REQUIRE(*end == '\0');
        std::string key = name + "{";
        for (const auto& [k, val] : labels)
            key += k + "=" + val + ",";
        key += "}";
        REQUIRE(p.series.emplace(key, v).second);  // no series twice
        p.labels[name].push_back(labels);
    }
    for (const auto& h : helps)
        CHECK(p.types.count(h) == 1);
    return p;
}

Overview sample_overview(const std::string& job_name) {
    Overview o;
    o.status.now = 1'700'000'000'000;
    lrsched::store::JobReport job;
    job.name = job_name;
    job.tenant = "contoso";
    job.paused = true;
    lrsched::store::RunReport run;
    run.id = 7;
    for (const auto s : lrsched::sessions::kAllStates)
        run.counts[s] = 0;
    run.counts[lrsched::sessions::SessionState::queued] = 40;
    run.counts[lrsched::sessions::SessionState::done] = 2;
    job.latest_run = run;
    o.status.jobs.push_back(job);
    lrsched::store::JobReport never_ran;
    never_ran.name = "later";
    never_ran.tenant = "contoso";
    o.status.jobs.push_back(never_ran);
    lrsched::store::TenantReport tenant;
    tenant.name = "contoso";
    o.status.tenants.push_back(tenant);

    Live live;
    live.at = 1'700'000'100'000;
    live.started_at = 1'700'000'000'000;
    TenantLive t;
    t.name = "contoso";
    t.slots_held = 3;
    t.slots_held_offline = 1;
    t.slot_limit = 25;
    t.offline_slots = 5;
    t.token_fetches = 2;
    t.api_calls["runliveresponse"]["201"] = 9;
    t.api_calls["runliveresponse"]["429"] = 1;
    t.api_calls["machineactions"]["200"] = 12;
    t.api_calls["token"]["error"] = 1;
    t.throttled["submit_window"] = 1;
    t.submit_windows.push_back({60'000, 4, 10});
    t.read_windows.push_back({60'000, 12, 100});
    t.read_windows.push_back({3'600'000, 30, 1500});
    t.result_files = 3;
    t.result_bytes = 123456;
    t.last_poll = live.at - 2'500;
    live.tenants.push_back(t);
    o.live = live;
    return o;
}

double value(const Parsed& p, const std::string& key) {
    CAPTURE(key);
    const auto it = p.series.find(key);
    REQUIRE(it != p.series.end());
    return it->second;
}

}  // namespace

TEST_CASE("metrics: the text parses as exposition format 0.0.4 and holds every family") {
    const Parsed p = parse_exposition(prometheus_text(sample_overview("sweep")));
    for (const char* family :
         {"lrsched_build_info", "lrsched_start_time_seconds", "lrsched_sessions",
          "lrsched_queue_depth", "lrsched_job_paused", "lrsched_api_calls_total",
          "lrsched_api_throttled_total", "lrsched_token_fetches_total",
          "lrsched_submit_window_calls", "lrsched_submit_window_limit", "lrsched_read_window_calls",
          "lrsched_read_window_limit", "lrsched_slots_in_use", "lrsched_slots_offline",
          "lrsched_slots_limit", "lrsched_result_bytes_total", "lrsched_result_files_total",
          "lrsched_seconds_since_last_poll", "lrsched_tenant_paused"}) {
        CAPTURE(family);
        CHECK(p.types.count(family) == 1);
    }
    // Counters end in _total and are typed so; nothing else is a counter.
    for (const auto& [name, type] : p.types)
        CHECK((type == "counter") == (name.size() > 6 && name.substr(name.size() - 6) == "_total"));
    CHECK(value(p, "lrsched_build_info{compiler=" __VERSION__ ",version=0.1.0,}") == 1);
    CHECK(value(p, "lrsched_start_time_seconds{}") == 1'700'000'000.0);
    CHECK(value(p, "lrsched_api_calls_total{code=201,endpoint=runliveresponse,tenant=contoso,}") ==
          9);
    CHECK(value(p, "lrsched_api_calls_total{code=error,endpoint=token,tenant=contoso,}") == 1);
    CHECK(value(p, "lrsched_token_fetches_total{tenant=contoso,}") == 2);
    CHECK(value(p, "lrsched_read_window_calls{tenant=contoso,window=3600s,}") == 30);
    CHECK(value(p, "lrsched_read_window_limit{tenant=contoso,window=60s,}") == 100);
    CHECK(value(p, "lrsched_submit_window_calls{tenant=contoso,window=60s,}") == 4);
    CHECK(value(p, "lrsched_slots_in_use{tenant=contoso,}") == 3);
    CHECK(value(p, "lrsched_slots_offline{tenant=contoso,}") == 1);
    CHECK(value(p, "lrsched_slots_limit{tenant=contoso,}") == 25);
    CHECK(value(p, "lrsched_queue_depth{job=sweep,tenant=contoso,}") == 40);
    CHECK(value(p, "lrsched_result_bytes_total{tenant=contoso,}") == 123456);
    CHECK(value(p, "lrsched_result_files_total{tenant=contoso,}") == 3);
    CHECK(value(p, "lrsched_seconds_since_last_poll{tenant=contoso,}") == doctest::Approx(2.5));
    CHECK(value(p, "lrsched_job_paused{job=sweep,}") == 1);
    CHECK(value(p, "lrsched_job_paused{job=later,}") == 0);
    CHECK(value(p, "lrsched_tenant_paused{tenant=contoso,}") == 0);
}

TEST_CASE("metrics: every state of every job is a series, zeros included") {
    const Parsed p = parse_exposition(prometheus_text(sample_overview("sweep")));
    for (const char* job : {"sweep", "later"})
        for (const auto s : lrsched::sessions::kAllStates) {
            const std::string key = "lrsched_sessions{job=" + std::string(job) +
                                    ",state=" + std::string(lrsched::sessions::to_string(s)) +
                                    ",tenant=contoso,}";
            const double want = std::string(job) == "later"                    ? 0
                                : s == lrsched::sessions::SessionState::queued ? 40
                                : s == lrsched::sessions::SessionState::done   ? 2
                                                                               : 0;
            CHECK(value(p, key) == want);
        }
    CHECK(p.labels.at("lrsched_sessions").size() == 2 * lrsched::sessions::kAllStates.size());
    // Each throttling cause is there from the start, at zero until it happens.
    CHECK(value(p, "lrsched_api_throttled_total{cause=submit_window,tenant=contoso,}") == 1);
    CHECK(value(p, "lrsched_api_throttled_total{cause=read_window,tenant=contoso,}") == 0);
    CHECK(value(p, "lrsched_api_throttled_total{cause=other,tenant=contoso,}") == 0);
}

TEST_CASE("metrics: hostile names in label values are escaped and read back intact") {
    // Job names are checked by the loader, tenant names come from the
    // configuration: the text must hold whatever they are.
    const std::string hostile = "a\"b\\c\nd} 1\n# TYPE x counter";
    Overview o = sample_overview(hostile);
    o.live->tenants[0].name = "ten\"ant\n";
    o.status.jobs[0].tenant = "ten\"ant\n";
    const std::string text = prometheus_text(o);
    const Parsed p = parse_exposition(text);
    CHECK(p.types.count("x") == 0);
    bool found = false;
    for (const auto& labels : p.labels.at("lrsched_job_paused"))
        found = found || labels.at("job") == hostile;
    CHECK(found);
    CHECK(value(p, "lrsched_slots_limit{tenant=ten\"ant\n,}") == 25);
}

TEST_CASE("metrics: invalid UTF-8 in a label value becomes U+FFFD") {
    CHECK(lrsched::view::escape_label_value("ok\xff\xc3\xa9") == "ok\xef\xbf\xbd\xc3\xa9");
    CHECK(lrsched::view::escape_label_value("\xe0\x80\x80") ==
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // overlong: each byte replaced
    CHECK(lrsched::view::escape_label_value("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");
}

TEST_CASE("metrics: without the daemon's figures only the store's families have samples") {
    Overview o = sample_overview("sweep");
    o.live.reset();
    const Parsed p = parse_exposition(prometheus_text(o));
    CHECK(p.types.count("lrsched_api_calls_total") == 1);
    CHECK(p.labels.count("lrsched_api_calls_total") == 0);
    CHECK(p.labels.at("lrsched_sessions").size() == 2 * lrsched::sessions::kAllStates.size());
    CHECK(value(p, "lrsched_tenant_paused{tenant=contoso,}") == 0);
}
