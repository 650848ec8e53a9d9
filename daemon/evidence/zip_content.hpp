// The reader of a GetFile result, a ZIP archive, for comparing results by
// content: every entry's uncompressed bytes hashed, streamed through a
// 64 KiB buffer with libzip's zip_fread, never extracted (entry names are
// data only, never paths: `../x`, `/etc/x`, NUL and control bytes are kept
// as they are, for callers to show quoted). Two archives with the same files,
// whatever their order, timestamps or compression, get the same
// content_sha256.
//
// Expected load: one archive per GetFile result, up to a few GB, possibly
// hostile. Bounded: entry count, bytes actually decompressed (not the sizes
// the headers claim), expansion ratio per entry; an encrypted, corrupt or
// truncated archive is an Error saying which.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::evidence {

struct ZipLimits {
    std::uint64_t max_entries = 10'000;
    std::uint64_t max_total = 4'000'000'000;  // uncompressed bytes over all entries
    std::uint64_t max_ratio = 1'000;  // uncompressed/compressed, checked once an entry passes 1 MiB
};

struct ZipEntry {
    std::string name;  // as stored (raw bytes, up to a NUL)
    std::uint64_t bytes = 0;
    std::string sha256;
};

struct ZipContent {
    std::vector<ZipEntry> entries;  // sorted by name; directories left out
    std::string content_sha256;     // SHA-256 over the sorted (name, sha256) pairs
};

// Errors start "zip: " (invalid_input: not a ZIP, corrupt, truncated,
// encrypted; limit_exceeded: "zip: ZIP bomb guard: ..." or too many
// entries), or the file refused by RegularFile::open (FIFO, link, device).
Result<ZipContent> read_zip_content(const std::string& path, const ZipLimits& limits = {});
Result<ZipContent> read_zip_content_bytes(std::string_view bytes, const ZipLimits& limits = {});

}  // namespace lrsched::evidence
