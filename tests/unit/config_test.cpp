#include "config/config.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <sys/stat.h>

using lrsched::Diagnostics;
using lrsched::Errc;
using lrsched::config::parse_config;
using lrsched::config::read_client_secret;
using lrsched::test::TempDir;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMinimal =
    "tenants:\n"
    "  - name: contoso\n"
    "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
    "    client_id: 11111111-1111-1111-1111-111111111111\n";

std::string first_error(const Diagnostics& d) {
    return d.all().empty() ? "" : d.all()[0].to_string();
}

}  // namespace

TEST_CASE("a minimal configuration gets exactly SPEC's defaults") {
    Diagnostics diags;
    auto c = parse_config(kMinimal, "/etc/lrsched/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    CHECK(c->state_dir == "/var/lib/lrsched");
    CHECK(c->jobs_dir == "/etc/lrsched/jobs");
    CHECK(c->log.level == "info");
    CHECK(c->log.format == lrsched::config::LogFormat::text);
    CHECK(c->log.file.empty());
    CHECK(c->log.max_size == 10ULL * 1024 * 1024);
    CHECK(c->log.max_files == 5);
    CHECK(c->control.socket == "/run/lrsched/control.sock");
    CHECK(c->control.mode == 0660);
    CHECK(c->metrics_listen.empty());
    CHECK(c->evidence.max_file_size == 4'000'000'000);
    CHECK_FALSE(c->evidence.max_run_size.has_value());
    REQUIRE(c->tenants.size() == 1);
    const auto& t = c->tenants[0];
    CHECK(t.api_base == "https://api.securitycenter.microsoft.com");
    CHECK(t.login_base == "https://login.microsoftonline.com");
    CHECK(t.scope == "https://api.securitycenter.microsoft.com/.default");
    CHECK(t.limits.submit_rate == lrsched::config::Rate{10, 60s});
    REQUIRE(t.limits.read_rate.size() == 2);
    CHECK(t.limits.read_rate[0] == lrsched::config::Rate{100, 60s});
    CHECK(t.limits.read_rate[1] == lrsched::config::Rate{1500, 1h});
    CHECK(t.limits.concurrent_sessions == 25);
    CHECK(t.limits.pending_counts_as_running);
    CHECK(t.limits.offline_slots == 5);
    CHECK(t.limits.queue_expiry == 72h);
    CHECK(t.limits.runscript_timeout == 10min);
    CHECK(t.poll_interval == 30s);
    CHECK(t.library_dir.empty());
}

TEST_CASE("the example configuration parses to the defaults it documents") {
    Diagnostics diags;
    auto c = lrsched::config::load_config(LRSCHED_SOURCE_DIR "/config/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    Diagnostics d2;
    auto minimal = parse_config(kMinimal, "/etc/lrsched/lrsched.yaml", d2);
    REQUIRE(minimal.has_value());
    const auto& a = c->tenants.at(0);
    const auto& b = minimal->tenants.at(0);
    CHECK(a.limits.submit_rate == b.limits.submit_rate);
    CHECK(a.limits.read_rate == b.limits.read_rate);
    CHECK(a.limits.queue_expiry == b.limits.queue_expiry);
    CHECK(a.poll_interval == b.poll_interval);
    CHECK(c->control.mode == minimal->control.mode);
    CHECK(c->evidence.max_file_size == minimal->evidence.max_file_size);
    CHECK(c->evidence.max_run_size == minimal->evidence.max_run_size);
    CHECK(c->log.max_size == minimal->log.max_size);
    CHECK(c->log.max_files == minimal->log.max_files);
}

TEST_CASE("log rotation takes a byte size and a count of files") {
    Diagnostics diags;
    auto c = parse_config(
        "log: {file: lrsched.log, max_size: 1MB, max_files: 2}\n" + std::string(kMinimal),
        "/etc/lrsched/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    CHECK(c->log.file == "/etc/lrsched/lrsched.log");
    CHECK(c->log.max_size == 1'000'000);
    CHECK(c->log.max_files == 2);
}

TEST_CASE("evidence caps parse in either family of units") {
    Diagnostics diags;
    auto c = parse_config(
        "evidence: {max_file_size: 512MiB, max_run_size: 2TB}\n" + std::string(kMinimal),
        "/etc/lrsched/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    CHECK(c->evidence.max_file_size == 512ULL * 1024 * 1024);
    CHECK(c->evidence.max_run_size == 2'000'000'000'000ULL);
}

TEST_CASE("compressed limits for tests parse, relative paths resolve against the file") {
    Diagnostics diags;
    auto c = parse_config(std::string("state_dir: state\njobs_dir: ./jobs\n") + kMinimal +
                              "    ca_file: ca.pem\n"
                              "    api_base: https://127.0.0.1:8443/\n"
                              "    limits:\n"
                              "      submit_rate: {calls: 10, per: 3s}\n"
                              "      read_rate: [{calls: 50, per: 500ms}]\n"
                              "      concurrent_sessions: 5\n"
                              "      offline_slots: 2\n"
                              "      queue_expiry: 20s\n"
                              "      pending_counts_as_running: false\n",
                          "/srv/test/lrsched.yaml", diags);
    CAPTURE(diags.to_string());
    REQUIRE(c.has_value());
    CHECK(c->state_dir == "/srv/test/state");
    CHECK(c->jobs_dir == "/srv/test/jobs");
    const auto& t = c->tenants[0];
    CHECK(t.ca_file == "/srv/test/ca.pem");
    CHECK(t.api_base == "https://127.0.0.1:8443");
    CHECK(t.limits.submit_rate == lrsched::config::Rate{10, 3s});
    CHECK(t.limits.read_rate == std::vector<lrsched::config::Rate>{{50, 500ms}});
    CHECK(t.limits.queue_expiry == 20s);
    CHECK_FALSE(t.limits.pending_counts_as_running);
}

TEST_CASE("configuration errors name the file, line and column") {
    struct Case {
        std::string yaml;
        const char* where;
        const char* says;
    };
    const std::string tenant = kMinimal;
    const Case cases[] = {
        {"stat_dir: /x\n" + tenant, "c.yaml:1:1: ", "unknown key \"stat_dir\" in configuration"},
        {"log: {level: loud}\n" + tenant, "c.yaml:1:14: ", "log.level: expected trace"},
        {"log: {format: xml}\n" + tenant, "c.yaml:1:15: ", "log.format: expected text or json"},
        {"log: {max_size: 1KB}\n" + tenant, "c.yaml:1:17: ", "log.max_size: at least 64KiB"},
        {"log: {max_size: lots}\n" + tenant, "c.yaml:1:17: ", "log.max_size: expected a size"},
        {"log: {max_files: 0}\n" + tenant, "c.yaml:1:18: ", "log.max_files: expected"},
        {"log: {max_files: 5000}\n" + tenant, "c.yaml:1:18: ", "log.max_files: expected"},
        {"log: {rotate: yes}\n" + tenant, "c.yaml:1:7: ", "unknown key \"rotate\""},
        {"control: {mode: \"0666\"}\n" + tenant, "c.yaml:1:17: ", "must not be open to others"},
        {"control: {mode: rw}\n" + tenant, "c.yaml:1:17: ", "expected an octal file mode"},
        {"metrics: {listen: 9464}\n" + tenant,
         "c.yaml:1:19: ", "metrics.listen: expected host:port"},
        {"evidence: {max_file_size: 5GB}\n" + tenant,
         "c.yaml:1:27: ", "evidence.max_file_size: at most 4GB"},
        {"evidence: {max_run_size: 10 GB}\n" + tenant,
         "c.yaml:1:26: ", "evidence.max_run_size: expected a size such as 500MB"},
        {"evidence: {max_run_size: 0GB}\n" + tenant, "c.yaml:1:26: ", "expected a size"},
        {"evidence: {max_file: 1GB}\n" + tenant, "c.yaml:1:12: ", "max_file"},
        {"state_dir: /x\n", "c.yaml:1:1: ", "missing required key `tenants`"},
        {"tenants: []\n", "c.yaml:1:10: ", "tenants: expected a non-empty list"},
        {tenant + "    api_base: http://api.example.com\n",
         "c.yaml:5:15: ", "expected an https:// base URL"},
        {tenant + "    api_base: https://api.example.com/api\n", "c.yaml:5:15: ", "with no path"},
        {tenant + "    limits: {concurrent_sessions: many}\n",
         "c.yaml:5:35: ", "tenants[0].limits.concurrent_sessions: expected a whole number"},
        {tenant + "    limits: {queue_expiry: 3 days}\n",
         "c.yaml:5:28: ", "queue_expiry: expected a duration"},
        {tenant + "    limits: {submit_rate: {calls: 10}}\n",
         "c.yaml:5:27: ", "needs both `calls` and `per`"},
        {tenant + "    limits: {submit_rate: {calls: 10, per: 0s}}\n",
         "c.yaml:5:44: ", "must be longer than 0"},
        {tenant + "    limits: {offline_slots: 30}\n",
         "c.yaml:5:13: ", "cannot exceed concurrent_sessions"},
        {tenant + "    limits: {pending_counts_as_running: yes}\n",
         "c.yaml:5:41: ", "expected true or false"},
        {tenant + "    poll: 30s\n", "c.yaml:5:5: ", "unknown key \"poll\" in tenants[0]"},
        {tenant + tenant.substr(9), "c.yaml:5:5: ", "duplicate tenant name \"contoso\""},
        {"tenants:\n  - name: Contoso\n    tenant_id: x y\n", "c.yaml:2:11: ", "expected [a-z0-9]"},
        {"tenants:\n  - name: a\n    tenant_id: 00000000-0000-0000-0000-000000000000\n",
         "c.yaml:2:5: ", "missing required key `client_id`"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.yaml);
        Diagnostics diags;
        CHECK_FALSE(parse_config(c.yaml, "c.yaml", diags).has_value());
        CAPTURE(diags.to_string());
        CHECK(first_error(diags).rfind(c.where, 0) == 0);
        CHECK(first_error(diags).find(c.says) != std::string::npos);
        CHECK(first_error(diags) == diags.all()[0].to_string());
    }
}

TEST_CASE("a hostile configuration file is refused by the loader's caps") {
    std::string y = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
    for (char c = 'b'; c <= 'h'; ++c)
        y += std::string(1, c) + ": &" + c + " [*" + static_cast<char>(c - 1) + ",*" +
             static_cast<char>(c - 1) + ",*" + static_cast<char>(c - 1) + ",*" +
             static_cast<char>(c - 1) + ",*" + static_cast<char>(c - 1) + ",*" +
             static_cast<char>(c - 1) + ",*" + static_cast<char>(c - 1) + ",*" +
             static_cast<char>(c - 1) + ",*" + static_cast<char>(c - 1) + ",*" +
             static_cast<char>(c - 1) + "]\n";
    Diagnostics diags;
    CHECK_FALSE(parse_config(y, "c.yaml", diags).has_value());
    CHECK(diags.to_string().find("node cap") != std::string::npos);
}

TEST_CASE("a configuration that is not UTF-8 is refused at its first bad byte") {
    Diagnostics diags;
    const std::string y = std::string(kMinimal) + "    api_base: https://caf\xe9.example\n";
    CHECK_FALSE(parse_config(y, "c.yaml", diags).has_value());
    CHECK(first_error(diags).rfind("c.yaml:5:26: text is not UTF-8", 0) == 0);
}

TEST_CASE("the client secret is read from a private file, trimmed, never echoed") {
    TempDir dir;
    lrsched::config::Tenant t;
    t.name = "contoso";
    const auto secret = dir.write("contoso.secret", "  s3cr3t-value\n\n");
    t.client_secret_file = secret.string();

    SUBCASE("mode 0600 is accepted and the value trimmed") {
        ::chmod(secret.c_str(), 0600);
        auto s = read_client_secret(t, "");
        REQUIRE(s.ok());
        CHECK(s->reveal() == "s3cr3t-value");
    }
    SUBCASE("a file readable by group or others is refused with a clear message") {
        for (const mode_t mode : {0640, 0604, 0644, 0620}) {
            ::chmod(secret.c_str(), mode);
            auto s = read_client_secret(t, "");
            REQUIRE_FALSE(s.ok());
            CHECK(s.error().code == make_error_code(Errc::permission_denied));
            CHECK(s.error().message.find("readable or writable by group or others") !=
                  std::string::npos);
            CHECK(s.error().message.find("chmod 600") != std::string::npos);
            CHECK(s.error().message.find("s3cr3t") == std::string::npos);
        }
    }
    SUBCASE("an empty secret file is refused") {
        const auto empty = dir.write("empty.secret", " \n");
        ::chmod(empty.c_str(), 0600);
        t.client_secret_file = empty.string();
        auto s = read_client_secret(t, "");
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find("is empty") != std::string::npos);
    }
    SUBCASE("$CREDENTIALS_DIRECTORY/<tenant>.secret wins over client_secret_file") {
        ::chmod(secret.c_str(), 0600);
        const auto cred = dir.write("creds/contoso.secret", "from-systemd");
        ::chmod(cred.c_str(), 0400);
        auto s = read_client_secret(t, (dir.path() / "creds").string());
        REQUIRE(s.ok());
        CHECK(s->reveal() == "from-systemd");
        auto other = read_client_secret(t, (dir.path() / "no-such-dir").string());
        REQUIRE(other.ok());
        CHECK(other->reveal() == "s3cr3t-value");
    }
    SUBCASE("no secret anywhere is reported, naming the tenant") {
        t.client_secret_file.clear();
        auto s = read_client_secret(t, "");
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find("tenant contoso: no client secret") != std::string::npos);
    }
    SUBCASE("a missing secret file is reported with its path") {
        t.client_secret_file = (dir.path() / "missing.secret").string();
        auto s = read_client_secret(t, "");
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find("missing.secret") != std::string::npos);
    }
}
