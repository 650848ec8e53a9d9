#include "evidence/recovery.hpp"

#include "evidence/writer.hpp"

#include <filesystem>
#include <set>

namespace lrsched::evidence {

Result<RunTally> reconcile_run_folder(store::Store& store,
                                      std::int64_t run_id,
                                      const std::string& run_dir,
                                      std::int64_t now) {
    auto keys = store.artifact_keys_of_run(run_id);
    if (!keys) return std::move(keys).error();
    RunTally tally;
    std::set<std::string> listed;
    for (const ManifestEntry& e : read_manifest(run_dir)) {
        listed.insert(e.file);
        tally.bytes += static_cast<std::uint64_t>(std::max<std::int64_t>(e.bytes, 0));
        if (keys->count({e.action_id, e.command_index})) continue;
        auto session = store.session_of_action(e.action_id);
        if (!session) return std::move(session).error();
        if (!*session) continue;  // not one of ours (verify reports what does not belong)
        const store::ArtifactRow row{
            0,       **session, e.action_id, e.command_index, e.command_type, e.remote, e.file,
            e.bytes, e.sha256,  now,         e.action_status};
        if (auto r = store.add_artifact(row); !r) return r.error();
        ++tally.recorded;
    }
    // The chain's tail as the manifest has it: lines recorded just now (or an
    // update lost with a crash) would leave the store's copy behind.
    if (const auto tail = manifest_digest(run_dir))
        if (auto r = store.set_chain_tail(run_id, *tail); !r) return r.error();
    // Machine folders only: the run folder holds nothing else of ours but
    // the manifest. A symbolic link is never followed (verify reports it).
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(run_dir, ec)) {
        if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
        tally.removed += remove_unrecorded(run_dir, entry.path().filename().string(), listed);
    }
    return tally;
}

}  // namespace lrsched::evidence
