// Certificate credentials end to end (issue 16): the real daemon signs a
// JWT client assertion with the key of a certificate the real lrsched-sim
// has registered, and the simulator verifies it as Entra does. A sweep goes
// through; each refusal (a certificate the app registration lacks, an
// expired one, a replayed assertion, a clock far off) pauses the tenant
// with the server's AADSTS code and the daemon's own hint, nothing is
// submitted and the daemon stops cleanly; a reload with new credential files
// ends the pause; `validate -c` checks the pair and the dates; the key and
// the assertions never appear in the log, status or metrics.
#include "control/client.hpp"
#include "sim/server/cert.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using lrsched::test::ClientCertSpec;
using lrsched::test::DaemonE2e;
using lrsched::test::ProcessResult;
using lrsched::test::run_process;
using lrsched::test::SweepSpec;

namespace {

ProcessResult cli(DaemonE2e& e2e, std::vector<std::string> args) {
    std::vector<std::string> argv{LRSCHED_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", (e2e.dir() / "lrsched.yaml").string()});
    return run_process(argv);
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The base64 lines of a PEM key: any of them in an output is a leak.
std::vector<std::string> key_lines(const std::filesystem::path& key_file) {
    std::vector<std::string> out;
    std::istringstream in(slurp(key_file));
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line.rfind("-----", 0) != 0) out.push_back(line);
    return out;
}

void check_no_key_material(const std::string& where,
                           const std::string& text,
                           const std::vector<std::string>& lines) {
    for (const auto& line : lines)
        CHECK_MESSAGE(!has(text, line), where << " holds a line of the private key");
    // Nor a JWT (the assertion, single-use bearer material, or a token):
    // "eyJ" starts every base64url JSON object.
    CHECK_MESSAGE(!has(text, "eyJ"), where << " holds a JWT");
}

SweepSpec small_fleet(ClientCertSpec cert) {
    SweepSpec spec;
    spec.machines = 12;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0";
    spec.certificate = cert;
    return spec;
}

std::optional<std::string> paused_reason(DaemonE2e& e2e) {
    if (e2e.query("SELECT count(*) FROM tenants WHERE name = 'sim' AND paused = 1").value_or(0) !=
        1)
        return std::nullopt;
    lrsched::test::ReadOnlyDb db(e2e.db_path());
    const auto rows = db.rows("SELECT paused_reason FROM tenants WHERE name = 'sim'");
    return rows.at(0).at(0);
}

// Starts the daemon, waits for the tenant's pause and checks it: the reason
// holds every part of `expect`, in status too; nothing reached the server
// but the token requests; the daemon stops with 0.
void check_paused(DaemonE2e& e2e, const std::vector<std::string>& expect) {
    e2e.start_daemon();
    std::string reason;
    e2e.wait_until("the tenant paused for its credentials", [&] {
        auto r = paused_reason(e2e);
        if (r) reason = *r;
        return r.has_value();
    });
    INFO(reason);
    for (const auto& part : expect)
        CHECK(has(reason, part));
    // The text cuts the reason to one short line, the JSON keeps it whole.
    const auto status = cli(e2e, {"status"});
    CHECK(status.exit_code == 0);
    CHECK_MESSAGE(has(status.out,
                      "; paused: tenant sim: token request refused (HTTP 401: \"" + expect.front()),
                  status.out);
    const auto json = cli(e2e, {"status", "--json"});
    REQUIRE(json.exit_code == 0);
    const auto doc = nlohmann::json::parse(json.out);
    const std::string shown = doc["tenants"]["sim"]["paused_reason"].get<std::string>();
    for (const auto& part : expect)
        CHECK_MESSAGE(has(shown, part), shown);
    const auto stats = e2e.stats();
    CHECK(stats["tokens_issued"] == 0);
    CHECK(stats["actions_created"] == 0);
    // The simulator refused with that code, and only the daemon's requests
    // reached it: one, or a few until the pause.
    const std::string code = expect.front().substr(6);  // "AADSTS700027" -> "700027"
    CHECK(stats["token_errors"].value(code, 0) >= 1);
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    check_no_key_material("the log", e2e.log(), key_lines(e2e.client_key()));
}

}  // namespace

TEST_CASE(
    "credential e2e: a sweep with a certificate credential (PS256), and no key or assertion in the "
    "log, status or metrics") {
    SweepSpec spec = small_fleet(ClientCertSpec{});
    spec.log = "{level: debug, format: json}";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE state = 'done'") == 12);
    const auto stats = e2e.stats();
    CHECK(stats["tokens_issued"].get<int>() >= 1);

    const auto status = cli(e2e, {"status"});
    REQUIRE(status.exit_code == 0);
    CHECK_MESSAGE(has(status.out, "; certificate "), status.out);
    CHECK(has(status.out, " until "));
    CHECK_FALSE(has(status.out, "WARNING"));  // valid for a year
    const auto json = cli(e2e, {"status", "--json"});
    REQUIRE(json.exit_code == 0);
    const auto doc = nlohmann::json::parse(json.out);
    const auto& cred = doc["daemon"]["tenants"]["sim"]["credential"];
    CHECK(cred["kind"] == "certificate");
    CHECK(cred["thumbprint"].get<std::string>().size() == 40);
    CHECK(cred["warning"].is_null());
    CHECK(cred["file"] == e2e.client_cert().string());
    auto metrics = lrsched::control::request(e2e.control_socket().string(), "GET", "/metrics");
    REQUIRE(metrics.ok());
    CHECK(has(metrics->body, "lrsched_certificate_expiry_seconds{tenant=\"sim\"} "));
    CHECK(has(metrics->body, "lrsched_certificate_expiring{tenant=\"sim\"} 0"));

    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    const auto lines = key_lines(e2e.client_key());
    REQUIRE(lines.size() >= 20);  // RSA 2048 in PEM: ~26 lines of 64 characters
    check_no_key_material("the log", e2e.log(), lines);
    check_no_key_material("status", status.out + json.out, lines);
    check_no_key_material("the metrics", metrics->body, lines);
}

TEST_CASE("credential e2e: a certificate the app registration lacks pauses the tenant") {
    SweepSpec spec = small_fleet(ClientCertSpec{.ec = true, .registered = false});
    DaemonE2e e2e(spec);
    check_paused(e2e,
                 {"AADSTS700027", "is not registered on application", "The key was not found"});
}

TEST_CASE("credential e2e: an expired certificate pauses the tenant, saying when it expired") {
    SweepSpec spec =
        small_fleet(ClientCertSpec{.valid_from = -400L * 86400, .valid_until = -2L * 86400});
    DaemonE2e e2e(spec);
    check_paused(e2e, {"AADSTS700027", "The key used is expired",
                       "; the certificate " + e2e.client_cert().string(), " expired on "});
    CHECK(has(e2e.log(), "expired on "));  // said at start, before the server's refusal
}

TEST_CASE("credential e2e: a clock far off pauses the tenant, pointing at the clock") {
    SweepSpec spec = small_fleet(ClientCertSpec{});
    spec.sim_flags = {"--clock-offset", "3600"};
    DaemonE2e e2e(spec);
    check_paused(e2e,
                 {"AADSTS700024", "not within its valid time range", "check this machine's clock"});
}

TEST_CASE("credential e2e: a replayed assertion pauses the tenant") {
    SweepSpec spec = small_fleet(ClientCertSpec{});
    spec.sim_flags = {"--fault-replay", "1"};
    DaemonE2e e2e(spec);
    check_paused(e2e, {"AADSTS50013", "already used"});
    CHECK(e2e.stats()["faults_injected"]["replay"] == 1);
}

TEST_CASE(
    "credential e2e: new credential files and a reload end the pause, and the sweep finishes "
    "(rotation)") {
    // The app registration holds only the new certificate (made here, EC);
    // the daemon starts with the old one (RSA, unregistered) and is paused.
    lrsched::test::TempDir keys;
    auto fresh = lrsched::sim::generate_client_credential(keys.path(), "new",
                                                          lrsched::sim::ClientKey::ec_p256);
    REQUIRE(fresh.ok());
    SweepSpec spec = small_fleet(ClientCertSpec{.registered = false});
    spec.sim_flags = {"--client-cert", fresh->cert_file};
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_until("the tenant paused", [&] { return paused_reason(e2e).has_value(); });
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE action_id IS NOT NULL") == 0);

    // A reload with a broken key keeps the credential in use and says why.
    std::filesystem::copy_file(e2e.client_key(), keys.path() / "old.key");
    std::filesystem::permissions(e2e.client_key(), std::filesystem::perms::owner_read |
                                                       std::filesystem::perms::group_read |
                                                       std::filesystem::perms::others_read);
    const auto refused = cli(e2e, {"reload"});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 0);
    CHECK(has(refused.out + refused.err, "credential NOT replaced"));
    CHECK(has(refused.out + refused.err, "chmod 600"));
    CHECK(paused_reason(e2e).has_value());

    // Switch the files to the new pair, reload: resumed, and the sweep ends.
    std::filesystem::copy_file(fresh->cert_file, e2e.client_cert(),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::remove(e2e.client_key());
    std::filesystem::copy_file(fresh->key_file, e2e.client_key());
    std::filesystem::permissions(
        e2e.client_key(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto reload = cli(e2e, {"reload"});
    INFO(reload.out << reload.err);
    CHECK(reload.exit_code == 0);
    CHECK(has(reload.out, "tenant sim: certificate "));
    CHECK(has(reload.out, " in use"));
    e2e.wait_for_sweep_end();
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE state = 'done'") == 12);
    CHECK_FALSE(paused_reason(e2e).has_value());
    CHECK(has(e2e.log(), "tenant=sim resumed: credentials re-read"));
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    check_no_key_material("the log", e2e.log(), key_lines(keys.path() / "old.key"));
    check_no_key_material("the log", e2e.log(), key_lines(fresh->key_file));
    check_no_key_material("reload's answer", refused.out + refused.err + reload.out,
                          key_lines(fresh->key_file));
}

TEST_CASE(
    "credential e2e: rotation without downtime: with both certificates registered, a reload "
    "switches to the new one and the next run's token is signed with it") {
    lrsched::test::TempDir keys;
    auto fresh = lrsched::sim::generate_client_credential(keys.path(), "new",
                                                          lrsched::sim::ClientKey::rsa2048);
    REQUIRE(fresh.ok());
    SweepSpec spec = small_fleet(ClientCertSpec{.ec = true});  // the old one: EC, registered
    spec.sim_flags = {"--client-cert", fresh->cert_file};      // the new one beside it
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    const std::string old_cert = e2e.client_cert().string();
    const auto before = e2e.stats()["tokens_by_credential"];
    CHECK(before.value(old_cert, 0) >= 1);
    CHECK(before.value(fresh->cert_file, 0) == 0);

    // The configuration now names the new files (the other way to switch).
    const auto config = e2e.dir() / "lrsched.yaml";
    std::string text = slurp(config);
    for (const auto& [from, to] : {std::pair{old_cert, fresh->cert_file},
                                   std::pair{e2e.client_key().string(), fresh->key_file}}) {
        const auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.replace(at, from.size(), to);
    }
    std::ofstream(config, std::ios::trunc) << text;
    const auto reload = cli(e2e, {"reload"});
    INFO(reload.out << reload.err);
    CHECK(reload.exit_code == 0);
    CHECK(has(reload.out, " in use"));
    const auto run = cli(e2e, {"run", "sweep"});
    CHECK(run.exit_code == 0);
    e2e.wait_until("run 2 finished", [&] {
        return e2e.query("SELECT count(*) FROM runs WHERE id = 2 AND finished_at IS NOT NULL")
                   .value_or(0) == 1;
    });
    const auto after = e2e.stats();
    CHECK(after["tokens_by_credential"].value(fresh->cert_file, 0) >= 1);
    CHECK(after["tokens_by_credential"].value(old_cert, 0) == before.value(old_cert, 0));
    CHECK(after["token_errors"].empty());
    CHECK(e2e.query("SELECT count(*) FROM sessions WHERE run_id = 2 AND state = 'done'") == 12);
    CHECK_FALSE(has(e2e.log(), "paused"));
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    check_no_key_material("the log", e2e.log(), key_lines(fresh->key_file));
}

TEST_CASE("credential e2e: validate -c checks the pair and the dates, warning 30 days ahead") {
    SweepSpec spec = small_fleet(ClientCertSpec{.valid_until = 10L * 86400 + 3600});
    DaemonE2e e2e(spec);
    const auto soon = cli(e2e, {"validate"});
    INFO(soon.out << soon.err);
    CHECK(soon.exit_code == 0);
    CHECK(has(soon.err, "warning: tenant sim: certificate " + e2e.client_cert().string()));
    CHECK(has(soon.err, "(in 10 days)"));

    // The daemon says it too: in status and as a metric.
    e2e.start_daemon();
    e2e.wait_until("the control socket",
                   [&] { return std::filesystem::exists(e2e.control_socket()); });
    const auto status = cli(e2e, {"status"});
    CHECK_MESSAGE(has(status.out, "; WARNING: certificate "), status.out);
    auto metrics = lrsched::control::request(e2e.control_socket().string(), "GET", "/metrics");
    REQUIRE(metrics.ok());
    CHECK(has(metrics->body, "lrsched_certificate_expiring{tenant=\"sim\"} 1"));
    CHECK(e2e.stop_daemon(SIGTERM) == 0);
    CHECK(has(e2e.log(), "(in 10 days)"));

    // Another key than the certificate's: an error naming both files, and
    // the daemon refuses to start with the same words.
    lrsched::test::TempDir keys;
    auto other = lrsched::sim::generate_client_credential(keys.path(), "other",
                                                          lrsched::sim::ClientKey::rsa2048);
    REQUIRE(other.ok());
    std::filesystem::copy_file(other->key_file, e2e.client_key(),
                               std::filesystem::copy_options::overwrite_existing);
    const auto wrong = cli(e2e, {"validate"});
    CHECK(wrong.exit_code == 1);
    CHECK(has(wrong.err, "lrsched.yaml:"));
    CHECK(has(wrong.err, "does not match the certificate " + e2e.client_cert().string()));
    check_no_key_material("validate", wrong.out + wrong.err, key_lines(e2e.client_key()));
    const auto daemon = lrsched::test::run_process_within(
        {LRSCHED_BINARY, "daemon", "-c", (e2e.dir() / "lrsched.yaml").string()},
        std::chrono::seconds(30));
    CHECK_FALSE(daemon.timed_out);
    CHECK(daemon.exit_code != 0);
    CHECK(has(daemon.err, "does not match the certificate"));
}
