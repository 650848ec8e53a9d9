// One table per run (SPEC §4 "Reading results", issue 15 item 1): a row per
// session (machine, state, attempt, exit code, action, times, last error)
// with, per stored result, its file, size and SHA-256, and what the machine
// produced: a RunScript's output and errors (evidence/transcript.hpp, its
// transcript header and footer set apart) or the files inside a GetFile's ZIP
// (evidence/zip_content.hpp). `content_sha256` is what `diff` and `stack`
// compare: equal when the machine produced the same thing, whatever the
// packaging (action ids and times in the transcript, ZIP timestamps).
//
// Built from the store's rows and the files of the run folder, never
// altering them. Cost: every result file read once, streaming (transcripts
// and ZIPs in O(1) memory); the rows hold previews capped at
// ResultOptions::preview_cap. Run by the CLI, and by the daemon when a run
// ends, off the io thread (runtime/run_close.cpp).
#pragma once

#include "common/result.hpp"
#include "evidence/transcript.hpp"
#include "evidence/zip_content.hpp"
#include "store/store.hpp"

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lrsched::evidence {

inline constexpr const char* kResultsFile = "results.jsonl";
// The manifest's command_type for the results.jsonl line.
inline constexpr const char* kResultsLineType = "Results";

struct ResultOptions {
    std::size_t preview_cap =
        std::size_t{64} * 1024;  // of each output and errors text kept in a row
    // ZIPs larger than this are not opened (content_sha256 is then the
    // file's own hash, with a note). The daemon caps it; the CLI does not.
    std::uint64_t max_zip_bytes = UINT64_MAX;
    ZipLimits zip_limits;
    // Set by the daemon at stop: what is left is not read (results cut short).
    const std::atomic<bool>* cancel = nullptr;
};

struct ResultFile {
    std::int64_t index = 0;  // the command's index in the job
    std::string type;        // RunScript or GetFile
    std::string remote;      // the script name or remote path as sent
    std::string file;        // relative to the run folder
    std::int64_t bytes = 0;
    std::string sha256;          // of the file as stored
    std::string content_sha256;  // what the machine produced (see above)
    std::string note;            // why content_sha256 is the file's own hash, if it is
    std::optional<Transcript> transcript;
    std::optional<ZipContent> zip;
};

struct ResultRow {
    std::string machine_id;
    std::string computer_dns_name;  // empty when the server gave none
    std::string state;
    std::int64_t attempt = 1;
    std::optional<std::int64_t> exit_code;
    std::string action_id;
    std::optional<std::int64_t> submitted_at;
    std::optional<std::int64_t> ended_at;  // when the session reached a final state
    std::string last_error;
    std::vector<ResultFile> files;  // by command index

    // The machine as people know it: its DNS name, or its id.
    const std::string& name() const {
        return computer_dns_name.empty() ? machine_id : computer_dns_name;
    }
};

struct RunResults {
    std::string job;
    std::int64_t run = 0;
    std::optional<std::int64_t> finished_at;
    std::optional<std::string> digest;
    bool cut_short = false;       // ResultOptions::cancel was set while reading
    std::vector<ResultRow> rows;  // by machine name
};

// The rows of `run`, reading its files under `run_dir`. A file that cannot
// be read (missing, altered type, a ZIP bomb) is named in the row's note,
// never an error of the whole table.
RunResults build_results(const store::RunContents& run,
                         const std::string& run_dir,
                         const ResultOptions& options = {});

// One results.jsonl line (no newline): the row with job and run.
nlohmann::json to_json(const ResultRow& row, const std::string& job, std::int64_t run);

struct WrittenResults {
    std::uint64_t bytes = 0;
    std::string sha256;
};
// Writes `<run_dir>/results.jsonl` as the writer writes evidence: a
// temporary file, fsync, rename over any older one, fsync the folder.
Result<WrittenResults> write_results_file(const RunResults& results, const std::string& run_dir);

}  // namespace lrsched::evidence
