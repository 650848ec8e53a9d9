// Hashing a ZIP archive's entries with libzip (zip_content.hpp). libzip
// checks each entry's CRC-32 as zip_fread reaches its end, so a corrupt
// entry fails here rather than hashing garbage.
#include "evidence/zip_content.hpp"

#include "common/diagnostic.hpp"
#include "common/safe_file.hpp"
#include "common/sha256.hpp"

#include <algorithm>
#include <memory>
#include <unistd.h>
#include <zip.h>

namespace lrsched::evidence {

namespace {

constexpr std::size_t kBuffer = std::size_t{64} * 1024;
constexpr std::uint64_t kRatioFrom = std::uint64_t{1024} * 1024;
// libzip opens an empty source as an empty archive; an empty download is not one.
constexpr const char* kEmpty = "an empty file, not a ZIP archive";

struct ArchiveCloser {
    void operator()(zip_t* z) const { zip_discard(z); }  // read only: nothing to write back
};
struct FileCloser {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;
using EntryFile = std::unique_ptr<zip_file_t, FileCloser>;

std::string error_text(int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    std::string s = zip_error_strerror(&e);
    zip_error_fini(&e);
    return s;
}

Error corrupt(std::string what) {
    return Error(Errc::invalid_input, "zip: " + std::move(what));
}

Result<ZipEntry> hash_entry(zip_t* z,
                            zip_uint64_t index,
                            const zip_stat_t& st,
                            const ZipLimits& limits,
                            std::uint64_t& total,
                            std::vector<char>& buf) {
    ZipEntry e;
    e.name = st.name;
    EntryFile f(zip_fopen_index(z, index, 0));
    if (!f) return corrupt("entry " + quote_value(e.name) + ": cannot open: " + zip_strerror(z));
    const std::uint64_t compressed = (st.valid & ZIP_STAT_COMP_SIZE) != 0 ? st.comp_size : 0;
    Sha256 sha;
    for (;;) {
        const zip_int64_t n = zip_fread(f.get(), buf.data(), buf.size());
        if (n < 0)
            return corrupt("entry " + quote_value(e.name) + ": " +
                           zip_error_strerror(zip_file_get_error(f.get())));
        if (n == 0) break;
        const auto got = static_cast<std::uint64_t>(n);
        e.bytes += got;
        total += got;
        if (total > limits.max_total)
            return Error(Errc::limit_exceeded, "zip: ZIP bomb guard: the entries expand past " +
                                                   std::to_string(limits.max_total) +
                                                   " bytes in all (at entry " +
                                                   quote_value(e.name) + ")");
        // bytes > max_ratio * compressed, without the product's overflow.
        if (e.bytes > kRatioFrom &&
            (compressed == 0 || (e.bytes - 1) / compressed >= limits.max_ratio))
            return Error(Errc::limit_exceeded,
                         "zip: ZIP bomb guard: entry " + quote_value(e.name) + " expands past " +
                             std::to_string(limits.max_ratio) + "x its compressed size");
        sha.update(std::string_view(buf.data(), got));
    }
    e.sha256 = sha.hex_digest();
    return e;
}

Result<ZipContent> read_archive(zip_t* z, const ZipLimits& limits) {
    const zip_int64_t count = zip_get_num_entries(z, 0);
    if (count < 0) return corrupt("cannot count the entries");
    if (static_cast<std::uint64_t>(count) > limits.max_entries)
        return Error(Errc::limit_exceeded, "zip: " + std::to_string(count) +
                                               " entries, over the cap of " +
                                               std::to_string(limits.max_entries));
    ZipContent out;
    std::vector<char> buf(kBuffer);
    std::uint64_t total = 0;
    for (zip_int64_t i = 0; i < count; ++i) {
        const auto index = static_cast<zip_uint64_t>(i);
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z, index, ZIP_FL_ENC_RAW, &st) != 0 || (st.valid & ZIP_STAT_NAME) == 0)
            return corrupt("entry " + std::to_string(i) + ": " + zip_strerror(z));
        const std::string_view name = st.name;
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE)
            return corrupt("entry " + quote_value(name) +
                           " is encrypted; it cannot be compared by content");
        if (!name.empty() && name.back() == '/' && (st.valid & ZIP_STAT_SIZE) != 0 && st.size == 0)
            continue;  // a directory
        auto e = hash_entry(z, index, st, limits, total, buf);
        if (!e) return std::move(e).error();
        out.entries.push_back(std::move(e).value());
    }
    std::sort(out.entries.begin(), out.entries.end(), [](const ZipEntry& a, const ZipEntry& b) {
        return a.name != b.name ? a.name < b.name : a.sha256 < b.sha256;
    });
    // Length-prefixed names: no name can forge the boundary between two pairs.
    Sha256 sha;
    for (const auto& e : out.entries)
        sha.update(std::to_string(e.name.size()) + ":" + e.name + " " + e.sha256 + "\n");
    out.content_sha256 = sha.hex_digest();
    return out;
}

}  // namespace

Result<ZipContent> read_zip_content(const std::string& path, const ZipLimits& limits) {
    auto file = RegularFile::open(path, Links::refuse);
    if (!file) return Error(file.error().code, "zip: " + file.error().message);
    if (file->status().st_size == 0) return corrupt(kEmpty);
    // zip_fdopen takes the descriptor it is given; ours stays with RegularFile.
    const int fd = ::dup(file->fd());
    if (fd < 0) return Error(Errc::io_error, "zip: cannot duplicate the descriptor");
    int code = 0;
    Archive z(zip_fdopen(fd, ZIP_CHECKCONS, &code));
    if (!z) {
        ::close(fd);
        return corrupt("not a readable ZIP archive: " + error_text(code));
    }
    return read_archive(z.get(), limits);
}

Result<ZipContent> read_zip_content_bytes(std::string_view bytes, const ZipLimits& limits) {
    if (bytes.empty()) return corrupt(kEmpty);
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (src == nullptr) {
        const std::string s = zip_error_strerror(&err);
        zip_error_fini(&err);
        return corrupt(s);
    }
    Archive z(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err));
    if (!z) {
        zip_source_free(src);
        const std::string s = zip_error_strerror(&err);
        zip_error_fini(&err);
        return corrupt("not a readable ZIP archive: " + s);
    }
    zip_error_fini(&err);
    return read_archive(z.get(), limits);
}

}  // namespace lrsched::evidence
