// The status page as the daemon serves it (view/status_page.hpp): the
// embedded text is the HTML file byte for byte, it loads nothing from
// elsewhere, never hands a string to the HTML parser, and every member of
// the status document it reads is one view::to_json writes. What the page
// shows in a browser is tests/page/page_test.py's part.
#include "view/status_page.hpp"

#include "sessions/session_state.hpp"
#include "view/overview.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string read_source_page() {
    std::ifstream in(LRSCHED_SOURCE_DIR "/daemon/view/status_page.html", std::ios::binary);
    REQUIRE(in);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

bool has(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
}

// A job with an unfinished run and a tenant with live figures: the
// document's every member is there.
nlohmann::json full_status() {
    lrsched::view::Overview o;
    o.status.now = 1'700'000'000'000;
    lrsched::store::JobReport job;
    job.name = "sweep";
    job.tenant = "contoso";
    lrsched::store::RunReport run;
    run.id = 4;
    for (const lrsched::sessions::SessionState s : lrsched::sessions::kAllStates)
        run.counts[s] = 1;
    job.latest_run = run;
    o.status.jobs.push_back(job);
    o.etas.emplace_back();
    lrsched::store::TenantReport tenant;
    tenant.name = "contoso";
    o.status.tenants.push_back(tenant);
    lrsched::view::Live live;
    lrsched::view::TenantLive t;
    t.name = "contoso";
    t.certificate = lrsched::view::CertificateLive{"/etc/lrsched/c.crt", "AB", "CN=c", 0, "ends"};
    live.tenants.push_back(t);
    o.live = live;
    return lrsched::view::to_json(o);
}

void check_reads(const std::string& page,
                 const nlohmann::json& object,
                 std::initializer_list<const char*> members) {
    for (const char* m : members) {
        INFO("member: " << std::string(m));
        CHECK(object.contains(m));
        CHECK(has(page, std::string(".") + m));
    }
}

}  // namespace

TEST_CASE("the status page is view/status_page.html, byte for byte") {
    const std::string& page = lrsched::view::status_page_html();
    CHECK(page == read_source_page());
    CHECK(&page == &lrsched::view::status_page_html());  // one copy, built once
}

TEST_CASE("the status page loads nothing from elsewhere and never parses a string as HTML") {
    const std::string& page = lrsched::view::status_page_html();
    REQUIRE(page.rfind("<!doctype html>", 0) == 0);
    for (const char* external : {"src=", "href=", "http:", "https:", "//cdn", "@import", "url(",
                                 "<link", "<iframe", "<object", "<embed", "import("}) {
        INFO("found: " << std::string(external));
        CHECK_FALSE(has(page, external));
    }
    for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                             "createContextualFragment", "DOMParser", "eval(", "new Function"}) {
        INFO("found: " << std::string(sink));
        CHECK_FALSE(has(page, sink));
    }
    // The second line of defence: no script, style or request but the page's own.
    CHECK(has(page, "Content-Security-Policy"));
    CHECK(has(page, "default-src 'none'; connect-src 'self';"));
}

TEST_CASE("every member of the status document the page reads is one to_json writes") {
    const std::string& page = lrsched::view::status_page_html();
    const nlohmann::json doc = full_status();
    CHECK(has(page, "fetch(\"v1/status\""));
    check_reads(page, doc, {"jobs", "tenants", "now", "daemon"});
    const nlohmann::json& job = doc["jobs"]["sweep"];
    check_reads(page, job,
                {"tenant", "paused", "paused_reason", "last_error", "last_error_at", "deleted_at",
                 "latest_run"});
    check_reads(page, job["latest_run"],
                {"id", "trigger", "created_at", "finished_at", "sessions", "total", "finished",
                 "unresolved", "eta", "eta_source"});
    for (const auto& [state, n] : job["latest_run"]["sessions"].items()) {
        INFO("state: " << state);
        CHECK(has(page, "\"" + state + "\""));  // in the page's STATES
    }
    check_reads(page, doc["tenants"]["contoso"],
                {"calls_last_minute", "read_calls_last_minute", "running", "pending", "submitting",
                 "paused", "paused_reason", "throttled_until", "last_error", "last_error_since"});
    check_reads(page, doc["daemon"], {"at", "started_at", "loops_running", "stopping", "tenants"});
    check_reads(page, doc["daemon"]["tenants"]["contoso"],
                {"slots_held", "slots_held_offline", "slot_limit", "offline_slots", "unreachable",
                 "unreachable_since", "retry_at", "credential"});
    check_reads(page, doc["daemon"]["tenants"]["contoso"]["credential"], {"warning"});
}
