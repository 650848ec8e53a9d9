// The evidence manifest's line reader (evidence/manifest.hpp), as `lrsched
// verify` reads each line: no crash, an accepted entry names a file inside
// the run folder, and writing it out reads back to the same entry.
#include "evidence/manifest.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

namespace {

bool same(const lrsched::evidence::ManifestEntry& a, const lrsched::evidence::ManifestEntry& b) {
    return a.job == b.job && a.run == b.run && a.machine_id == b.machine_id &&
           a.computer_dns_name == b.computer_dns_name && a.action_id == b.action_id &&
           a.command_index == b.command_index && a.command_type == b.command_type &&
           a.remote == b.remote && a.file == b.file && a.bytes == b.bytes && a.sha256 == b.sha256 &&
           a.downloaded_at == b.downloaded_at && a.action_status == b.action_status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lrsched::evidence;
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    const auto entry = parse_line(line);
    if (!entry) return 0;
    FUZZ_CHECK(is_contained(entry->file));
    std::string out = to_line(*entry);
    FUZZ_CHECK(!out.empty() && out.back() == '\n');
    out.pop_back();
    const auto again = parse_line(out);
    FUZZ_CHECK(static_cast<bool>(again) && same(*entry, *again));
    return 0;
}
