// Every setting of lrsched-sim in one struct, read from command-line flags and
// an optional YAML file whose keys mirror the flags (flags win). Durations are
// double seconds (a 3-day expiry can be 20 s in a test), fractions are 0..1.
// Parsed once at start-up; tests build a SimConfig directly.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lrsched::sim {

struct SimConfig {
    // Contract flags and the transport's settings.
    int machines = 10;
    std::uint64_t seed = 1;
    int port = 0;
    std::string tenant = "8f0e3b5a-2c4d-4e6f-9a1b-3c5d7e9f1a2b";
    std::string client_id = "11111111-1111-1111-1111-111111111111";
    std::string client_secret = "sim-secret";
    std::string config_file;
    std::string state_dir;
    bool wrong_host = false;  // serve a certificate for the wrong host name
    std::string cert_file, key_file, ca_file;
    bool help = false;  // --help was given: print sim_help() and exit 0

    // Auth.
    double token_lifetime = 3599;
    // A 200 answer's body as given, "@TOKEN@" replaced by the token issued
    // (issue 10 C13: bad JSON, no access_token, a hostile expires_in).
    std::string token_body;
    // Certificate credentials (issue 16): PEM certificates registered on the
    // app (several at once: rotation), and seconds added to the wall clock
    // when an assertion's nbf/exp are checked ("the client's clock is off").
    std::vector<std::string> client_certs;
    double clock_offset = 0;

    // runliveresponse limits (SPEC §1).
    int submit_calls = 10;
    double submit_window = 60;
    int concurrent_sessions = 25;
    bool pending_counts_as_running = true;
    // Read limits: every /api call but runliveresponse, per tenant.
    int read_calls = 100;
    double read_window = 60;
    int read_calls_long = 1500;
    double read_window_long = 3600;

    // Lifecycle.
    double queue_expiry = 259200;
    double runscript_timeout = 600;
    double pickup_delay = 0;  // from "machine free and online" to InProgress
    double putfile_duration = 2;
    double runscript_duration = 5;
    double getfile_duration = 3;
    double runscript_fail_fraction = 0;
    double runscript_hang_fraction = 0;

    // Fleet behaviour (ignored for machines loaded from a file unless given there).
    double offline_fraction = 0.1;  // online only after a while
    double online_after_min = 30;
    double online_after_max = 300;
    double never_online_fraction = 0.05;
    double busy_fraction = 0.05;  // busy with someone else's session at the start
    double busy_for_min = 10;
    double busy_for_max = 120;

    // Results.
    double link_lifetime = 1800;
    double visibility_lag = 0;
    std::uint64_t getfile_size = 4096;
    std::uint64_t odd_machines = 0;  // generated machines 0..N-1 have Machine::odd_output
    double download_delay = 0;       // every result download answers after this long

    // Faults on /api calls (the token endpoint and /_sim/* are exempt).
    double fault_http500 = 0;
    double fault_http503 = 0;
    double fault_reset = 0;
    double fault_slow = 0;
    double slow_seconds = 2;
    double fault_foreign_429 = 0;
    double foreign_retry_after = 10;
    double fault_created_but_lost = 0;
    double fault_truncate_download = 0;  // /_sim/blob downloads cut half-way
    double fault_reset_download = 0;     // /_sim/blob downloads reset before any answer
    double fault_expire_link = 0;        // /_sim/blob answers 403 as for an expired link
    // The first N library listings, and the first N uploads, answered 503
    // (deterministic, unlike the fractions above).
    int fault_library_unavailable = 0;
    // The first N client assertions that pass every check are answered as
    // replays (AADSTS50013), as if someone had used them first.
    int fault_replay = 0;
    // The first N posts to each /hooks/<name> answered 500 (webhook retries).
    int webhook_fail_first = 0;

    // Hostile strings (issue 10, C11/C12). Machine names carrying CR LF and
    // a forged log line, ESC sequences, NUL, or spaces and `state=done`;
    // every 4xx message and token error carrying such text too.
    bool hostile_strings = false;
    // Every listed computerDnsName padded to this many bytes (0: as is); the
    // fleet keeps the short names, the padding is added as they are sent.
    std::uint64_t long_names = 0;

    // Observation.
    std::string tag_regex = "lrsched:[0-9a-f]+:[0-9]+:[0-9]+";
    std::string ledger;  // JSON-lines file; empty: none

    std::vector<std::string> library = {"autoruns.exe", "collect-autoruns.ps1",
                                        "collect-triage.ps1", "minidump.ps1"};
    std::string machines_file;  // JSON array of machines; empty: generated
    // Wall-clock instant (Unix seconds) that `now == 0` stands for. The model
    // never reads a clock: the transport sets this at start unless given.
    std::optional<double> start_time;
};

// Parses the contract `lrsched-sim --machines N --seed S --port 0 --client-id
// ID --client-secret SECRET [--config FILE] [--state-dir DIR]` plus one flag
// per setting (`--submit-window 3s`, `--runscript-fail-fraction 0.2`, ...).
// Durations take seconds (`2.5`) or units (`250ms 30s 10m 6h 3d`).
Result<SimConfig> parse_sim_args(const std::vector<std::string>& args);

// Applies a YAML configuration (keys are the flags in snake_case) to `config`;
// errors carry file:line:col.
Result<void> apply_sim_yaml(std::string_view text, const std::string& file, SimConfig& config);

// Checks cross-field rules (fractions add up, min <= max, ...).
Result<void> validate_sim_config(const SimConfig& config);

std::string sim_help();

}  // namespace lrsched::sim
