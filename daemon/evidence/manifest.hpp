// The evidence manifest (SPEC §4): one JSON line per stored file in
// `<run folder>/manifest.jsonl`, and `lrsched verify`, which re-hashes a run
// folder against it. The lines form a hash chain (issue 15): a first line
// `{"chain":"sha256","seed":..,"job":..,"run":..}` with a random seed, then
// each file's line with `prev`, the SHA-256 of the previous line's bytes; the
// last line's hash is the run digest. The folder alone proves a line was
// removed, moved or edited; only the digest proves the last one was not. A run folder holds up to
// 10^5 machines' files; verify streams every file once and holds only the manifest's entries in
// memory. The manifest may have been edited by anyone with access to the folder, so its lines are
// parsed as hostile input: a bad line is reported with its number and field, and a `file` that
// would leave the folder is refused.
//
// Folder evidence/: run folders, artifacts, the manifest, recovery; includes
// store/, common/.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::evidence {

inline constexpr const char* kManifestFile = "manifest.jsonl";

struct ManifestEntry {
    std::string job;
    std::int64_t run = 0;
    std::string machine_id;
    std::string computer_dns_name;
    std::string action_id;
    std::int64_t command_index = 0;
    std::string command_type;  // RunScript or GetFile
    std::string remote;        // the script name or remote path exactly as sent
    std::string file;          // relative to the run folder, '/'-separated
    std::int64_t bytes = 0;
    std::string sha256;         // 64 lower-case hex characters
    std::string downloaded_at;  // ISO 8601 UTC
    std::string action_status;  // as the server spelled it
    std::string prev;           // the previous line's SHA-256; empty: unchained line
};

// One manifest line, newline included.
std::string to_line(const ManifestEntry& e);
// Reads one line (without its newline); errors name the field.
Result<ManifestEntry> parse_line(std::string_view line);

// The chain's first line (newline included): `seed_hex` is 64 hex characters.
std::string chain_head_line(std::string_view job, std::int64_t run, std::string_view seed_hex);
// 32 random bytes (getrandom) as hex: a fresh chain's seed.
Result<std::string> random_seed_hex();

// Whether `file` is a relative path of plain components ('/'-separated, none
// empty, `.` or `..`, no NUL): one that stays inside the run folder.
bool is_contained(std::string_view file);

struct VerifyReport {
    std::size_t verified = 0;          // files present with their size and hash
    std::vector<std::string> missing;  // listed, absent
    std::vector<std::string> altered;  // listed, present, but not what was stored
    std::vector<std::string> extra;    // present, not listed (temporary files included)
    // Names above are quoted (quote_value): a name from the manifest or the
    // folder never starts a line of its own or carries a terminal sequence.
    std::vector<std::string> errors;  // manifest lines that cannot be read, with their numbers
    std::size_t error_count = 0;      // all of them; `errors` keeps the first 100
    // "chained", "unchained" (written before issue 15), "empty" (no line).
    std::string chain;
    // Where the chain breaks, each naming its line ("manifest.jsonl:N: ..."),
    // the first 100; `break_count` counts them all.
    std::vector<std::string> breaks;
    std::size_t break_count = 0;
    std::string digest;             // SHA-256 of the last line; empty without one
    std::optional<bool> digest_ok;  // set when an expected digest was given
    bool clean() const noexcept {
        return missing.empty() && altered.empty() && extra.empty() && error_count == 0 &&
               break_count == 0 && digest_ok != false;
    }
};

// Re-hashes every file of the run folder `dir` against its manifest. Fails
// only when the folder or its manifest cannot be read at all: the manifest
// must be a regular file in the folder (not a link, a FIFO, a device or a
// directory); each line is read up to 64 KiB (a longer one is an error with
// its number). Listed files must be regular files reached without a link.
// `expected_digest`: the run digest the daemon recorded, compared with the
// last line's hash (the one change the chain alone cannot see is a cut tail).
Result<VerifyReport> verify_run_folder(const std::string& dir,
                                       const std::optional<std::string>& expected_digest = {});

}  // namespace lrsched::evidence
