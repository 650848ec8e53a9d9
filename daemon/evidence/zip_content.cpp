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

std::uint64_t le(std::string_view s, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i)
        v = v << 8 | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
    return v;
}

Error too_many(std::uint64_t count, const ZipLimits& limits) {
    return Error(Errc::limit_exceeded, "zip: " + std::to_string(count) +
                                           " entries, over the cap of " +
                                           std::to_string(limits.max_entries));
}

// The entry count the end-of-central-directory record claims (Zip64's when
// there is one), checked before libzip opens the archive: libzip allocates
// per entry as it opens, so a claimed million entries is refused here. A
// record we cannot find is left for libzip to report.
template <typename ReadAt>
Result<void> check_claimed_entries(std::uint64_t size,
                                   const ReadAt& read_at,
                                   const ZipLimits& limits) {
    constexpr std::size_t kEocd = 22;
    const std::uint64_t want = std::min<std::uint64_t>(size, kEocd + 0xFFFF);
    std::string tail;
    if (!read_at(size - want, static_cast<std::size_t>(want), tail) || tail.size() < kEocd)
        return ok();
    std::size_t i = tail.size() - kEocd + 1;
    do {
        --i;
    } while (i > 0 && le(tail, i, 4) != 0x06054b50);
    if (le(tail, i, 4) != 0x06054b50) return ok();
    std::uint64_t count = le(tail, i + 10, 2);
    if (count == 0xFFFF && i >= 20 && le(tail, i - 20, 4) == 0x07064b50) {
        const std::uint64_t at = le(tail, i - 20 + 8, 8);
        std::string z64;
        if (at < size && size - at >= 56 && read_at(at, 56, z64) && z64.size() == 56 &&
            le(z64, 0, 4) == 0x06064b50)
            count = le(z64, 32, 8);
    }
    if (count > limits.max_entries) return too_many(count, limits);
    return ok();
}

}  // namespace

Result<ZipContent> read_zip_content(const std::string& path, const ZipLimits& limits) {
    auto file = RegularFile::open(path, Links::refuse);
    if (!file) return Error(file.error().code, "zip: " + file.error().message);
    if (file->status().st_size == 0) return corrupt(kEmpty);
    const int held = file->fd();
    const auto read_at = [held](std::uint64_t at, std::size_t n, std::string& out) {
        out.assign(n, '\0');
        const ssize_t got = ::pread(held, out.data(), n, static_cast<off_t>(at));
        if (got < 0) return false;
        out.resize(static_cast<std::size_t>(got));
        return true;
    };
    if (auto r = check_claimed_entries(static_cast<std::uint64_t>(file->status().st_size), read_at,
                                       limits);
        !r)
        return std::move(r).error();
    // zip_fdopen takes the descriptor it is given; ours stays with RegularFile.
    const int fd = ::dup(file->fd());
    if (fd < 0) return Error(Errc::io_error, "zip: cannot duplicate the descriptor");
    int code = 0;
    Archive z(zip_fdopen(fd, 0, &code));
    if (!z) {
        ::close(fd);
        return corrupt("not a readable ZIP archive: " + error_text(code));
    }
    return read_archive(z.get(), limits);
}

Result<ZipContent> read_zip_content_bytes(std::string_view bytes, const ZipLimits& limits) {
    if (bytes.empty()) return corrupt(kEmpty);
    const auto read_at = [bytes](std::uint64_t at, std::size_t n, std::string& out) {
        out.assign(bytes.substr(static_cast<std::size_t>(at), n));
        return true;
    };
    if (auto r = check_claimed_entries(bytes.size(), read_at, limits); !r)
        return std::move(r).error();
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (src == nullptr) {
        const std::string s = zip_error_strerror(&err);
        zip_error_fini(&err);
        return corrupt(s);
    }
    Archive z(zip_open_from_source(src, ZIP_RDONLY, &err));
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
