// End-to-end fixture (issue 4): the real lrsched-sim and the real
// `lrsched daemon` over loopback TLS, in one temp directory, and the ways a
// test watches them without touching either: the simulator's /_sim/stats
// and its ledger, the daemon's log, and the daemon's database opened
// read-only. A sweep is a one-shot job over the whole fleet; both sides are
// told the same compressed limits, the simulator to enforce them, the daemon
// to keep within them.
//
// Waiting is always on a condition: wait_until() re-checks an observable
// every 200 ms and fails, with the daemon's last log lines, when a generous
// bound passes. Nothing here sleeps to let a race settle.
#pragma once

#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace lrsched::test {

class SyncHttpsClient;

// The settings of one sweep, told to both processes.
// The tenant's client secret, as the simulator and the daemon share it: a
// canary for tests that search outputs for it.
inline constexpr const char* kSimSecret = "s3cret";

// A client certificate credential for the tenant instead of the secret
// (issue 16): made by the fixture as <dir>/client.crt and client.key.
struct ClientCertSpec {
    bool ec = false;                      // EC P-256 (ES256); else RSA 2048 (PS256)
    long valid_from = -3600;              // seconds from now
    long valid_until = 365L * 24 * 3600;  // seconds from now
    bool registered = true;               // --client-cert to the simulator
};

struct SweepSpec {
    int machines = 50;
    int submit_calls = 10;
    std::string submit_window = "1s";
    int concurrent_sessions = 8;
    int offline_slots = 4;
    std::string queue_expiry = "5s";
    std::string poll_interval = "500ms";
    std::string listing_lag = "2s";
    std::string offline_fraction = "0.2";  // online after 1 s to online_after_max
    std::string online_after_max = "4s";
    std::string never_online_fraction = "0.06";
    std::string busy_fraction = "0.1";  // busy with a foreign session for 2-8 s
    bool wrong_host = false;            // the simulator's certificate names wrong.example
    // The job's `commands:` list, as YAML lines (RunScript needs the script in
    // the simulator's library: --library NAME in sim_flags).
    std::string commands = "  - GetFile: 'C:\\Windows\\Temp\\x.log'\n";
    std::vector<std::string> sim_flags;  // faults and any other lrsched-sim flag
    std::string config_extra;            // top-level lines for lrsched.yaml (e.g. `evidence:`)
    std::string job_extra;               // top-level lines for the job file (e.g. `on_finish:`)
    std::string log = "{level: info}";   // the configuration's `log:` value (flow style)
    std::string tenant_extra;            // lines of the tenant's entry, indented 4 spaces
    // The tenant's credential: none, the client secret kSimSecret; else a
    // certificate (the simulator still knows the secret, for sim_api()).
    std::optional<ClientCertSpec> certificate;
    // Files (name -> content) written to <dir>/library, which becomes the
    // tenant's library_dir; empty: the tenant has no library_dir.
    std::map<std::string, std::string> library_files;
};

// SPEC §3's states a session ends in, as an SQL list.
inline constexpr const char* kFinalStatesSql =
    "('done','failed','expired','not_found','rejected','cancelled','withdrawn','gave_up')";

// The daemon's database, opened read-only (SQLITE_OPEN_READONLY): reading
// it never migrates, writes or checkpoints. Open one per check; a reader
// held open would only pin the daemon's WAL.
class ReadOnlyDb {
  public:
    // Throws std::runtime_error when the file cannot be opened.
    explicit ReadOnlyDb(const std::filesystem::path& path);
    ~ReadOnlyDb();
    ReadOnlyDb(const ReadOnlyDb&) = delete;
    ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

    using Row = std::vector<std::optional<std::string>>;  // NULL is nullopt
    // Throws std::runtime_error naming the statement on any error.
    std::vector<Row> rows(const std::string& sql);
    std::int64_t scalar(const std::string& sql);

  private:
    sqlite3* db_ = nullptr;
};

// One line of the daemon's log per session event (SPEC §7), parsed.
struct SessionLogLine {
    std::int64_t run = 0;
    std::string machine_id;
    std::string action;  // "-" when none
    std::string state;
    std::string from;
};
std::vector<SessionLogLine> session_log_lines(const std::string& log);

class DaemonE2e {
  public:
    // Starts the simulator and writes the daemon's configuration, secret
    // and job file (jobs/sweep.yaml). The daemon is not started yet.
    explicit DaemonE2e(SweepSpec spec);
    ~DaemonE2e();
    DaemonE2e(const DaemonE2e&) = delete;
    DaemonE2e& operator=(const DaemonE2e&) = delete;

    // `lrsched daemon -c CONFIG`, logging to daemon-<n>.log (one per start);
    // `env` ("K=V") is added to its environment; `wrapper` (a program and
    // its arguments, e.g. `unshare ...`) runs it, and must exec it.
    void start_daemon(const std::vector<std::string>& env = {},
                      const std::vector<std::string>& wrapper = {});
    // Waits, at most `bound`, for the daemon to end on its own (a crash
    // point): its exit status, or -signal. Fails the test if it does not.
    int wait_for_daemon_exit(std::chrono::seconds bound = std::chrono::seconds(90));
    // Sends `signal` and waits for the exit, at most 10 s before SIGKILL:
    // the exit status, or -signal.
    int stop_daemon(int signal);

    const SweepSpec& spec() const noexcept { return spec_; }
    // The running daemon's process id (for /proc/<pid>/status).
    int daemon_pid() const;
    const nlohmann::json& ready() const noexcept { return ready_; }
    const std::filesystem::path& dir() const noexcept { return dir_.path(); }

    // GET /_sim/stats, verified against the simulator's CA (under
    // wrong_host, with the host name its certificate does name).
    nlohmann::json stats();
    // One /api call to the simulator as another client of the tenant would
    // make it (its own token, the same client id): counted in the read
    // window like the daemon's calls. Not under wrong_host.
    struct ApiAnswer {
        int status = 0;
        std::string body;
    };
    ApiAnswer sim_api(const std::string& method,
                      const std::string& target,
                      const std::string& body = "",
                      const std::string& content_type = "");
    // <dir>/client.crt and <dir>/client.key under spec().certificate.
    std::filesystem::path client_cert() const { return dir_.path() / "client.crt"; }
    std::filesystem::path client_key() const { return dir_.path() / "client.key"; }
    // <dir>/library: the tenant's library_dir when spec().library_files is not empty.
    std::filesystem::path library_dir() const { return dir_.path() / "library"; }
    // The daemon's control socket (a test's own: never /run/lrsched).
    std::filesystem::path control_socket() const { return dir_.path() / "control.sock"; }
    // The ledger's `created` lines: one per action, with its tag.
    std::vector<nlohmann::json> created_actions() const;
    // Every start's log, in order.
    std::string log() const;
    std::string log_tail(std::size_t lines = 30) const;
    std::filesystem::path db_path() const;
    // A query's single value, or nullopt while the database cannot be read
    // (not created yet).
    std::optional<std::int64_t> query(const std::string& sql) const;

    // Re-checks `done` every 200 ms until it holds. Fails the test, naming
    // `what` and showing the daemon's last log lines, when `bound` passes or
    // the daemon exits on its own.
    void wait_until(const std::string& what,
                    const std::function<bool()>& done,
                    std::chrono::seconds bound = std::chrono::seconds(90));
    // Until the sweep's run has finished_at (every session final).
    void wait_for_sweep_end();

  private:
    std::vector<std::string> sim_args() const;
    void write_daemon_files();

    SweepSpec spec_;
    TempDir dir_;  // first: removed after both processes have stopped
    std::unique_ptr<BackgroundProcess> sim_;
    nlohmann::json ready_;
    std::unique_ptr<SyncHttpsClient> client_;
    std::unique_ptr<BackgroundProcess> daemon_;
    std::string sim_token_;        // sim_api()'s bearer token
    bool daemon_running_ = false;  // started and not stopped by the test
    int starts_ = 0;
};

}  // namespace lrsched::test
