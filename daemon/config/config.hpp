// The daemon's configuration (SPEC §5): YAML to a validated plain struct.
// No globals: whoever needs configuration is handed a Config or a Tenant.
// Read once per process, by the daemon at start-up or by a command (there is
// no live reload in this version); a few tenants, a few dozen keys. The
// fixed numbers no operator sets (margins, backoffs, page sizes, and the
// defaults below of lrsched's own choosing) are in config/policy.hpp.
// Folder config/: the configuration and the policy table; includes only
// common/.
#pragma once

#include "common/diagnostic.hpp"
#include "common/duration.hpp"
#include "common/result.hpp"
#include "config/policy.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::config {

using namespace std::chrono_literals;

inline constexpr const char* kDefaultConfigPath = "/etc/lrsched/lrsched.yaml";

struct Rate {
    std::int64_t calls = 0;
    Duration per{0};
    friend bool operator==(const Rate&, const Rate&) = default;
};

// Defaults are SPEC §1's: the seed's figures, the conservative ones.
struct Limits {
    Rate submit_rate{10, 60s};
    std::vector<Rate> read_rate{{100, 60s}, {1500, 1h}};
    int concurrent_sessions = 25;
    bool pending_counts_as_running = true;
    int offline_slots = 5;
    Duration queue_expiry{72h};
    Duration runscript_timeout{10min};
    // A session whose results are still not all stored this long after its
    // action ended fails, naming what was left (a listing that never shows
    // the action again, a disk that stays full).
    Duration collect_timeout{24h};
};

struct Tenant {
    std::string name;
    std::string tenant_id;
    std::string client_id;
    std::string client_secret_file;  // absolute after loading; may be empty with credentials
    // A certificate credential instead of the secret (config/credential.hpp):
    // the PEM certificate uploaded to the app registration and its private
    // key (the key may come from $CREDENTIALS_DIRECTORY/<name>.key instead).
    std::string client_certificate_file;
    std::string client_key_file;
    std::string api_base = "https://api.securitycenter.microsoft.com";
    std::string login_base = "https://login.microsoftonline.com";
    std::string scope = "https://api.securitycenter.microsoft.com/.default";
    std::string ca_file;  // absolute after loading, or empty
    Limits limits;
    Duration poll_interval{30s};
    // How long a new action may stay invisible to the actions list (the API
    // answers 404 for a moment after creation, mde-api.md §4). A submit
    // whose answer was lost is proved never created only by a listing taken
    // this long after it; until then it holds its slot and is not resent.
    Duration listing_lag{policy::kDefaultListingLag};
    // How far the server's clock may be behind ours: listings of actions
    // start this long before the oldest submission still followed.
    Duration clock_skew{policy::kDefaultClockSkew};
    // A machine whose last report is older than this looks offline.
    Duration offline_after{policy::kDefaultOfflineAfter};
    std::string library_dir;  // absolute after loading, or empty
    Location where;           // of the tenant's entry, for later messages
};

enum class LogFormat { text, json };

struct LogConfig {
    std::string level = "info";  // trace, debug, info, warn, error, critical, off
    LogFormat format = LogFormat::text;
    std::string file;  // empty: stderr (journald under systemd)
    // log.file's rotation (spdlog's rotating sink): a file reaching
    // max_size becomes x.1.log (x.log's index goes before the extension),
    // the older ones move up, and at most max_files of them are kept.
    std::uint64_t max_size = 10ull << 20;
    int max_files = 5;
};
// log.max_size at least this: a few hundred records, so that rotating
// never happens at every line.
inline constexpr std::uint64_t kMinLogSize = 64ULL * 1024;

struct ControlConfig {
    std::string socket = "/run/lrsched/control.sock";
    unsigned mode = 0660;
};

// Caps on what collection writes to disk (issue 5): a result over
// max_file_size, or one that would take a run's evidence over max_run_size,
// is not stored; its session ends failed, naming the cap.
struct EvidenceConfig {
    std::uint64_t max_file_size = 4'000'000'000;  // the largest GetFile result (no ZIP64)
    std::optional<std::uint64_t> max_run_size;    // none: no cap
};

struct Config {
    std::string path;  // the file it came from
    std::string state_dir = "/var/lib/lrsched";
    std::string jobs_dir = "/etc/lrsched/jobs";
    // How often jobs_dir is read again while inotify watches it (a safety
    // net); without inotify it is read every policy::kScanEvery whatever
    // this says. Tests set it long, so that only the watch can explain a
    // change seen.
    Duration jobs_scan_every{policy::kDefaultWatchedScanEvery};
    LogConfig log;
    ControlConfig control;
    std::string metrics_listen;  // "host:port" or empty
    EvidenceConfig evidence;
    std::vector<Tenant> tenants;

    const Tenant* find_tenant(std::string_view name) const;
};

// Parses `text` as the configuration file `path`. Relative paths in it are
// taken relative to the file's directory. Every problem is reported into
// `diags` with file:line:col; nullopt when any is an error.
std::optional<Config> parse_config(std::string_view text,
                                   const std::string& path,
                                   Diagnostics& diags);

// Reads and parses a configuration file (size-capped).
std::optional<Config> load_config(const std::string& path, Diagnostics& diags);

// The client secret, kept out of every format and log path: there is no
// operator<< and no implicit conversion; only reveal() hands it out.
class Secret {
  public:
    explicit Secret(std::string value) : value_(std::move(value)) {}
    const std::string& reveal() const noexcept { return value_; }

  private:
    std::string value_;
};

// Where a tenant's credential file is: `$CREDENTIALS_DIRECTORY/<name>.<extension>`
// when `credentials_directory` is non-empty and that file exists (systemd
// LoadCredential=), else `configured` (maybe empty).
std::string credential_path(const Tenant& tenant,
                            std::string_view credentials_directory,
                            std::string_view extension,
                            const std::string& configured);

// Reads a file only its owner may access: refused if group or others may,
// if it is a link or not a regular file (a FIFO is never waited on), or over
// `max_bytes`. Errors start with `what` and never quote the content.
Result<std::string> read_private_file(const std::string& path,
                                      const std::string& what,
                                      std::size_t max_bytes);

// Reads a tenant's client secret from `$CREDENTIALS_DIRECTORY/<name>.secret`
// when `credentials_directory` is non-empty and that file exists (systemd
// LoadCredential=), else from client_secret_file. Refuses a file that group or
// others may access, one that is empty or over 64 KiB. Surrounding white space
// is ignored. Error messages name the file, never its content.
Result<Secret> read_client_secret(const Tenant& tenant, std::string_view credentials_directory);

}  // namespace lrsched::config
