// DaemonE2e: see daemon_fixture.hpp. The only test file that includes
// <sqlite3.h> (read-only queries) and raw OpenSSL (reading the simulator's
// stats under --wrong-host, where the daemon's client rightly refuses).
#include "support/daemon_fixture.hpp"

#include "sim/server/cert.hpp"
#include "support/https_sync.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sqlite3.h>

#include <arpa/inet.h>
#include <csignal>
#include <fstream>
#include <netinet/in.h>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace lrsched::test {
namespace {

constexpr const char* kClientId = "11111111-1111-1111-1111-111111111111";
constexpr const char* kSecret = kSimSecret;
constexpr auto kRecheck = std::chrono::milliseconds(200);

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string openssl_error(const std::string& what) {
    std::string out = what;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += std::string(": ") + buf;
    }
    return out;
}

struct Socket {
    Socket() : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
    ~Socket() {
        if (fd >= 0) ::close(fd);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd;
};

// GET https://127.0.0.1:PORT{target} expecting a certificate for
// `host_name` signed by `ca_file`: the chain and the name are verified as
// strictly as the daemon does, only for the name the simulator serves under
// --wrong-host. HTTP/1.1 with Connection: close; the body by Content-Length.
std::string verified_get(const std::string& ca_file,
                         int port,
                         const std::string& host_name,
                         const std::string& target) {
    using Ctx = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
    using Ssl = std::unique_ptr<SSL, decltype(&SSL_free)>;
    Ctx ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
        throw std::runtime_error(openssl_error("loading " + ca_file));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

    const Socket sock;
    const int fd = sock.fd;
    if (fd < 0) throw std::runtime_error("socket failed");
    // Bound every read and write: a simulator that stops answering fails the test.
    const timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");

    Ssl ssl(SSL_new(ctx.get()), SSL_free);
    // SSL_set_tlsext_host_name is a macro with a C-style cast; this is its body.
    if (!ssl ||
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(host_name.c_str())) != 1 ||
        SSL_set1_host(ssl.get(), host_name.c_str()) != 1 || SSL_set_fd(ssl.get(), fd) != 1)
        throw std::runtime_error(openssl_error("setting up TLS"));
    if (SSL_connect(ssl.get()) != 1 || SSL_get_verify_result(ssl.get()) != X509_V_OK)
        throw std::runtime_error(openssl_error("TLS handshake as " + host_name));
    const std::string request =
        "GET " + target + " HTTP/1.1\r\nHost: " + host_name + "\r\nConnection: close\r\n\r\n";
    if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) !=
        static_cast<int>(request.size()))
        throw std::runtime_error(openssl_error("writing the request"));
    std::string answer;
    char buf[16384];
    for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;)
        answer.append(buf, static_cast<std::size_t>(n));
    const auto head_end = answer.find("\r\n\r\n");
    if (answer.rfind("HTTP/1.1 200", 0) != 0 || head_end == std::string::npos)
        throw std::runtime_error("GET " + target + ": " + answer.substr(0, 200));
    std::smatch m;
    const std::string head = answer.substr(0, head_end);
    static const std::regex content_length("\r\ncontent-length: *([0-9]+)", std::regex::icase);
    if (!std::regex_search(head, m, content_length))
        throw std::runtime_error("GET " + target + ": no Content-Length");
    std::string body = answer.substr(head_end + 4);
    if (body.size() != std::stoul(m[1].str()))
        throw std::runtime_error("GET " + target + ": body cut short");
    return body;
}

}  // namespace

// ---- ReadOnlyDb ----

ReadOnlyDb::ReadOnlyDb(const std::filesystem::path& path) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
    if (rc != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw std::runtime_error("open " + path.string() + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5'000);
}

ReadOnlyDb::~ReadOnlyDb() {
    sqlite3_close(db_);
}

std::vector<ReadOnlyDb::Row> ReadOnlyDb::rows(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
        throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    const std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, sqlite3_finalize);
    std::vector<Row> out;
    for (;;) {
        const int rc = sqlite3_step(raw);
        if (rc == SQLITE_DONE) return out;
        if (rc != SQLITE_ROW) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        Row row;
        for (int i = 0; i < sqlite3_column_count(raw); ++i) {
            const auto* text = sqlite3_column_text(raw, i);
            if (text)
                row.emplace_back(reinterpret_cast<const char*>(text));
            else
                row.emplace_back(std::nullopt);
        }
        out.push_back(std::move(row));
    }
}

std::int64_t ReadOnlyDb::scalar(const std::string& sql) {
    const auto r = rows(sql);
    if (r.size() != 1 || r[0].size() != 1 || !r[0][0])
        throw std::runtime_error(sql + ": not one value");
    return std::stoll(*r[0][0]);
}

// ---- the daemon's log ----

std::vector<SessionLogLine> session_log_lines(const std::string& log) {
    // A machine name is bare or quoted (log_value): "..." with \" and \\ inside.
    static const std::regex session_line(
        " run=([0-9]+) machine=(?:\"(?:[^\"\\\\]|\\\\.)*\"|\\S+) machine_id=([0-9a-f]+) "
        "action=(\\S+) state=([a-z_]+) from=([a-z_]+) ");
    std::vector<SessionLogLine> out;
    std::istringstream in(log);
    std::smatch m;
    for (std::string line; std::getline(in, line);)
        if (std::regex_search(line, m, session_line))
            out.push_back({std::stoll(m[1].str()), m[2].str(), m[3].str(), m[4].str(), m[5].str()});
    return out;
}

// ---- DaemonE2e ----

DaemonE2e::DaemonE2e(SweepSpec spec) : spec_(std::move(spec)) {
    if (const auto& c = spec_.certificate) {
        auto files = sim::generate_client_credential(
            dir_.path(), "client", c->ec ? sim::ClientKey::ec_p256 : sim::ClientKey::rsa2048,
            c->valid_from, c->valid_until);
        if (!files) throw std::runtime_error("client certificate: " + files.error().message);
    }
    const auto sim_stderr = dir_.path() / "sim.stderr";
    try {
        sim_ = std::make_unique<BackgroundProcess>(sim_args(), sim_stderr.string());
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string(e.what()) + ": " + read_file(sim_stderr));
    }
    ready_ = nlohmann::json::parse(sim_->ready_line());
    client_ = std::make_unique<SyncHttpsClient>(
        net::ClientOptions{ready_["ca_file"].get<std::string>(), "lrsched-e2e-test"});
    write_daemon_files();
}

DaemonE2e::~DaemonE2e() {
    if (daemon_) daemon_->stop(SIGTERM);
}

std::vector<std::string> DaemonE2e::sim_args() const {
    const SweepSpec& s = spec_;
    std::vector<std::string> a = {LRSCHED_SIM_BINARY,
                                  "--machines",
                                  std::to_string(s.machines),
                                  "--seed",
                                  "7",
                                  "--port",
                                  "0",
                                  "--client-id",
                                  kClientId,
                                  "--client-secret",
                                  kSecret,
                                  "--state-dir",
                                  (dir_.path() / "sim").string(),
                                  "--ledger",
                                  (dir_.path() / "ledger.jsonl").string(),
                                  "--submit-calls",
                                  std::to_string(s.submit_calls),
                                  "--submit-window",
                                  s.submit_window,
                                  "--concurrent-sessions",
                                  std::to_string(s.concurrent_sessions),
                                  "--queue-expiry",
                                  s.queue_expiry,
                                  "--offline-fraction",
                                  s.offline_fraction,
                                  "--online-after-min",
                                  "1s",
                                  "--online-after-max",
                                  s.online_after_max,
                                  "--never-online-fraction",
                                  s.never_online_fraction,
                                  "--busy-fraction",
                                  s.busy_fraction,
                                  "--busy-for-min",
                                  "2s",
                                  "--busy-for-max",
                                  "8s",
                                  "--runscript-duration",
                                  "1s",
                                  "--getfile-duration",
                                  "500ms",
                                  "--putfile-duration",
                                  "500ms",
                                  "--read-calls",
                                  "100",
                                  "--read-window",
                                  "3s",
                                  "--read-calls-long",
                                  "1500",
                                  "--read-window-long",
                                  "1m"};
    if (s.wrong_host) a.emplace_back("--wrong-host");
    if (s.certificate && s.certificate->registered) {
        a.emplace_back("--client-cert");
        a.push_back(client_cert().string());
    }
    a.insert(a.end(), s.sim_flags.begin(), s.sim_flags.end());
    return a;
}

void DaemonE2e::write_daemon_files() {
    const auto secret = dir_.write("sim.secret", std::string(kSecret) + "\n");
    std::filesystem::permissions(
        secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const std::string d = dir_.path().string();
    std::ostringstream c;
    c << "state_dir: " << d << "/state\n"
      << "jobs_dir: " << d << "/jobs\n"
      << "log: " << spec_.log << "\n"
      << "control: {socket: " << control_socket().string() << "}\n"
      << "tenants:\n"
      << "  - name: sim\n"
      << "    tenant_id: " << ready_["tenant"].get<std::string>() << "\n"
      << "    client_id: " << kClientId << "\n"
      << (spec_.certificate ? "    client_certificate_file: " + client_cert().string() +
                                  "\n    client_key_file: " + client_key().string() + "\n"
                            : "    client_secret_file: " + secret.string() + "\n")
      << "    api_base: " << ready_["base"].get<std::string>() << "\n"
      << "    login_base: " << ready_["base"].get<std::string>() << "\n"
      << "    ca_file: " << ready_["ca_file"].get<std::string>() << "\n"
      << "    limits:\n"
      << "      submit_rate: {calls: " << spec_.submit_calls << ", per: " << spec_.submit_window
      << "}\n"
      << "      read_rate: [{calls: 100, per: 3s}, {calls: 1500, per: 1m}]\n"
      << "      concurrent_sessions: " << spec_.concurrent_sessions << "\n"
      << "      offline_slots: " << spec_.offline_slots << "\n"
      << "      queue_expiry: " << spec_.queue_expiry << "\n"
      << "      runscript_timeout: 10s\n"
      << "    poll_interval: " << spec_.poll_interval << "\n"
      << "    listing_lag: " << spec_.listing_lag << "\n"
      << spec_.tenant_extra;
    if (!spec_.library_files.empty()) {
        for (const auto& [name, content] : spec_.library_files)
            dir_.write("library/" + name, content);
        c << "    library_dir: " << library_dir().string() << "\n";
    }
    c << spec_.config_extra;
    dir_.write("lrsched.yaml", c.str());
    dir_.write("jobs/sweep.yaml",
               "description: every machine\n"
               "targets:\n"
               "  tags: [tier0, server, workstation]\n"
               "commands:\n" +
                   spec_.commands +
                   "comment: e2e sweep\n"
                   "retry: {busy_every: 1s}\n" +
                   spec_.job_extra);
}

void DaemonE2e::start_daemon(const std::vector<std::string>& env,
                             const std::vector<std::string>& wrapper) {
    REQUIRE_MESSAGE((!daemon_ || daemon_->exited()), "the daemon is already running");
    ++starts_;
    const auto log = dir_.path() / ("daemon-" + std::to_string(starts_) + ".log");
    std::vector<std::string> argv = wrapper;
    for (const std::string& a : {std::string(LRSCHED_BINARY), std::string("daemon"),
                                 std::string("-c"), (dir_.path() / "lrsched.yaml").string()})
        argv.push_back(a);
    daemon_ =
        std::make_unique<BackgroundProcess>(argv, log.string(), BackgroundProcess::LogOnly{}, env);
    daemon_running_ = true;
}

int DaemonE2e::daemon_pid() const {
    REQUIRE(daemon_);
    return daemon_->pid();
}

int DaemonE2e::wait_for_daemon_exit(std::chrono::seconds bound) {
    REQUIRE(daemon_);
    std::optional<int> status;
    daemon_running_ = false;  // wait_until() must not fail on this exit
    wait_until(
        "the daemon to exit on its own", [&] { return (status = daemon_->exited()).has_value(); },
        bound);
    return *status;
}

int DaemonE2e::stop_daemon(int signal) {
    REQUIRE(daemon_);
    daemon_running_ = false;
    return daemon_->stop(signal);
}

nlohmann::json DaemonE2e::stats() {
    if (spec_.wrong_host)
        return nlohmann::json::parse(verified_get(ready_["ca_file"], ready_["port"].get<int>(),
                                                  "wrong.example", "/_sim/stats"));
    net::Request r;
    r.url = ready_["base"].get<std::string>() + "/_sim/stats";
    r.body_limit = 64u << 20;
    auto res = client_->call(std::move(r));
    if (!res) FAIL("GET /_sim/stats: " << res.error().message);
    REQUIRE(res->status == 200);
    return nlohmann::json::parse(res->body);
}

DaemonE2e::ApiAnswer DaemonE2e::sim_api(const std::string& method,
                                        const std::string& target,
                                        const std::string& body,
                                        const std::string& content_type) {
    REQUIRE_FALSE(spec_.wrong_host);
    const std::string base = ready_["base"].get<std::string>();
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (sim_token_.empty()) {
            net::Request t;
            t.method = "POST";
            t.url = base + "/" + ready_["tenant"].get<std::string>() + "/oauth2/v2.0/token";
            t.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
            t.body = std::string("grant_type=client_credentials&client_id=") + kClientId +
                     "&client_secret=" + kSecret +
                     "&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default";
            t.body_limit = 1u << 20;
            auto res = client_->call(std::move(t));
            if (!res) FAIL("token for sim_api: " << res.error().message);
            REQUIRE(res->status == 200);
            sim_token_ = nlohmann::json::parse(res->body)["access_token"].get<std::string>();
        }
        net::Request r;
        r.method = method;
        r.url = base + target;
        r.headers.emplace_back("Authorization", "Bearer " + sim_token_);
        if (!content_type.empty()) r.headers.emplace_back("Content-Type", content_type);
        r.body = body;
        r.body_limit = 64u << 20;
        auto res = client_->call(std::move(r));
        if (!res) FAIL(method << " " << target << ": " << res.error().message);
        if (res->status == 401) {  // expired: one new token
            sim_token_.clear();
            continue;
        }
        return {res->status, std::move(res->body)};
    }
    FAIL(method << " " << target << ": 401 twice");
    return {};
}

std::vector<nlohmann::json> DaemonE2e::created_actions() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(read_file(dir_.path() / "ledger.jsonl"));
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        if (j["event"] == "created") out.push_back(std::move(j));
    }
    return out;
}

std::string DaemonE2e::log() const {
    std::string all;
    for (int i = 1; i <= starts_; ++i)
        all += read_file(dir_.path() / ("daemon-" + std::to_string(i) + ".log"));
    return all;
}

std::string DaemonE2e::log_tail(std::size_t lines) const {
    std::vector<std::string> all;
    std::istringstream in(log());
    for (std::string line; std::getline(in, line);)
        all.push_back(std::move(line));
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += all[i] + "\n";
    return out;
}

std::filesystem::path DaemonE2e::db_path() const {
    return dir_.path() / "state" / "lrsched.db";
}

std::optional<std::int64_t> DaemonE2e::query(const std::string& sql) const {
    if (!std::filesystem::exists(db_path())) return std::nullopt;
    try {
        ReadOnlyDb db(db_path());
        return db.scalar(sql);
    } catch (const std::runtime_error&) {
        return std::nullopt;  // not migrated yet, or busy: asked again at the next check
    }
}

void DaemonE2e::wait_until(const std::string& what,
                           const std::function<bool()>& done,
                           std::chrono::seconds bound) {
    const auto give_up = std::chrono::steady_clock::now() + bound;
    for (;;) {
        if (done()) return;
        if (daemon_ && daemon_running_) {
            if (const auto status = daemon_->exited())
                FAIL("the daemon exited (status " << *status << ") while waiting for " << what
                                                  << "; its last lines:\n"
                                                  << log_tail());
        }
        if (std::chrono::steady_clock::now() >= give_up)
            FAIL("gave up after " << bound.count() << " s waiting for " << what
                                  << "; the daemon's last lines:\n"
                                  << log_tail());
        // A wait between two looks at an observable, not a guess at a race.
        std::this_thread::sleep_for(kRecheck);
    }
}

void DaemonE2e::wait_for_sweep_end() {
    // Closed: results.jsonl written and listed, the digest recorded.
    wait_until("the sweep's run to finish (every session final) and close", [&] {
        return query("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") >= 1 &&
               query("SELECT count(*) FROM runs WHERE closed_at IS NULL") == 0;
    });
}

}  // namespace lrsched::test
