// What changed between two runs of a job, per machine (`lrsched diff`), and
// identical results counted across a run's machines (`lrsched stack`): SPEC
// §4 "Reading results", issue 15 items 2 and 3. Both compare
// ResultFile::content_sha256, what the machine produced, never the packaging.
// Pure functions over two RunResults: O(n log n) in the machines and results.
#pragma once

#include "evidence/results.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::evidence {

enum class Change { new_, gone, unchanged, changed, failed };
inline constexpr std::array kAllChanges{Change::new_, Change::gone, Change::unchanged,
                                        Change::changed, Change::failed};
// "new", "gone", "unchanged", "changed", "failed".
std::string_view to_string(Change c) noexcept;

// One result that differs (changed machines only).
struct ResultChange {
    std::int64_t index = 0;
    std::string type;
    std::string remote;
    std::string what;               // "output", "errors", "exit code", "files inside the ZIP", ...
    const ResultFile* a = nullptr;  // null: the result is only in run B
    const ResultFile* b = nullptr;  // null: only in run A
};

struct MachineChange {
    std::string machine_id;
    std::string name;
    Change change = Change::unchanged;
    std::string why;  // failed: run B's state and error; changed: a summary
    std::vector<ResultChange> results;
    const ResultRow* a = nullptr;
    const ResultRow* b = nullptr;
};

struct RunDiff {
    std::int64_t run_a = 0;
    std::int64_t run_b = 0;
    std::vector<MachineChange> machines;  // by name
    std::array<std::int64_t, kAllChanges.size()> counts{};
    std::int64_t count(Change c) const { return counts[static_cast<std::size_t>(c)]; }
};

// Machine by machine (by id): only in B `new`, only in A `gone`; in both,
// `failed` when B's session did not end done, else `unchanged` when every
// result of B has A's content (by command index), else `changed`. The
// RunDiff points into `a` and `b`: keep them alive.
RunDiff diff_runs(const RunResults& a, const RunResults& b);

// {"job", "run_a", "run_b", "summary": {"new": n, ...}, "machines": [...]}
nlohmann::json to_json(const RunDiff& d, const std::string& job);

struct StackEntry {
    std::int64_t index = 0;
    std::string type;
    std::string remote;
    std::string content_sha256;
    std::vector<const ResultRow*> machines;  // by name
    const ResultFile* sample = nullptr;      // one of them: its preview, its ZIP entries
};

// Results of the run's done sessions grouped by (command index, content),
// rarest first, then by index and content.
std::vector<StackEntry> stack_results(const RunResults& run);

}  // namespace lrsched::evidence
