// Bringing a run's evidence folder and the store into line after a crash,
// once per run and process (the first time the daemon collects for that
// run). The writer's order (file, rename, manifest line, store row) means a
// crash can leave only three things behind: a `.part` file, a renamed file
// the manifest never listed, or a manifest line whose store row is missing.
// The first two are removed (the session is still `collecting`, so its
// results are fetched again); the third is recorded in the store, so the
// file is not fetched twice. Afterwards the store alone says what is stored.
//
// Cost: one pass over the manifest and the run folder (up to 2 x 10^5 lines
// and files), with the manifest's file names held only during the pass.
#pragma once

#include "common/result.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>

namespace lrsched::evidence {

struct RunTally {
    std::uint64_t bytes = 0;   // what the manifest lists, for evidence.max_run_size
    std::size_t recorded = 0;  // manifest lines the store lacked, now recorded
    std::size_t removed = 0;   // leftovers removed (.part files, unlisted files)
};

// `now`: the recorded rows' downloaded_at.
Result<RunTally> reconcile_run_folder(store::Store& store,
                                      std::int64_t run_id,
                                      const std::string& run_dir,
                                      std::int64_t now);

}  // namespace lrsched::evidence
