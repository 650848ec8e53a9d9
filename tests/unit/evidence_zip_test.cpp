// The GetFile ZIP reader (evidence/zip_content.hpp): archives built here with
// libzip, stored and deflated; the content hash ignores order, timestamps and
// compression; a deflate bomb, too many entries, an encrypted entry, a
// truncated or corrupt archive are refused saying which; hostile names are
// only data (nothing is written anywhere).
#include "common/sha256.hpp"
#include "evidence/zip_content.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <zip.h>

using lrsched::Errc;
using lrsched::sha256_hex;
using lrsched::evidence::read_zip_content;
using lrsched::evidence::read_zip_content_bytes;
using lrsched::evidence::ZipLimits;
using lrsched::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Item {
    std::string name;
    std::string data;
    bool deflate = false;
    time_t mtime = 1'700'000'000;
};

void make_zip(const fs::path& path,
              const std::vector<Item>& items,
              const char* password = nullptr,
              bool* encrypted = nullptr) {
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    REQUIRE(z != nullptr);
    for (const auto& it : items) {
        zip_source_t* src = zip_source_buffer(z, it.data.data(), it.data.size(), 0);
        REQUIRE(src != nullptr);
        const zip_int64_t idx = it.name.back() == '/'
                                    ? zip_dir_add(z, it.name.c_str(), ZIP_FL_ENC_RAW)
                                    : zip_file_add(z, it.name.c_str(), src, ZIP_FL_ENC_RAW);
        REQUIRE(idx >= 0);
        if (it.name.back() == '/') {
            zip_source_free(src);
            continue;
        }
        const auto i = static_cast<zip_uint64_t>(idx);
        REQUIRE(zip_set_file_compression(z, i, it.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) == 0);
        REQUIRE(zip_file_set_mtime(z, i, it.mtime, 0) == 0);
        if (password != nullptr)
            *encrypted = zip_file_set_encryption(z, i, ZIP_EM_AES_256, password) == 0;
    }
    REQUIRE(zip_close(z) == 0);
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::set<std::string> tree(const fs::path& root) {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        out.insert(e.path().string());
    return out;
}

// A source of `left` zero bytes, made as libzip reads it: the bomb is never in memory.
struct Zeros {
    std::uint64_t size;
    std::uint64_t left = 0;
};

zip_int64_t zeros_cb(void* ud, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
    auto* z = static_cast<Zeros*>(ud);
    switch (cmd) {
        case ZIP_SOURCE_OPEN:
            z->left = z->size;
            return 0;
        case ZIP_SOURCE_READ: {
            const zip_uint64_t n = std::min<zip_uint64_t>(len, z->left);
            std::memset(data, 0, n);
            z->left -= n;
            return static_cast<zip_int64_t>(n);
        }
        case ZIP_SOURCE_CLOSE:
            return 0;
        case ZIP_SOURCE_STAT: {
            auto* st = static_cast<zip_stat_t*>(data);
            zip_stat_init(st);
            st->size = z->size;
            st->valid |= ZIP_STAT_SIZE;
            return sizeof(zip_stat_t);
        }
        case ZIP_SOURCE_ERROR:
            return 2 * sizeof(int);
        case ZIP_SOURCE_FREE:
            return 0;
        case ZIP_SOURCE_SUPPORTS:
            return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ,
                                                  ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                                  ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
        default:
            return -1;
    }
}

}  // namespace

TEST_CASE("zip: entries are hashed by content, not by order, mtime or compression") {
    TempDir dir;
    const std::string big(200'000, 'q');
    const fs::path a = dir.path() / "a.zip", b = dir.path() / "b.zip", c = dir.path() / "c.zip";
    make_zip(a, {{"dir/", ""}, {"dir/one.txt", "one\n"}, {"two.bin", big, true}});
    make_zip(
        b, {{"two.bin", big, false, 1'600'000'000}, {"dir/one.txt", "one\n", true, 1'650'000'000}});
    make_zip(c, {{"dir/one.txt", "one!\n"}, {"two.bin", big, true}});
    auto ra = read_zip_content(a.string());
    auto rb = read_zip_content(b.string());
    auto rc = read_zip_content(c.string());
    REQUIRE_MESSAGE(ra.ok(), ra.error().message);
    REQUIRE(rb.ok());
    REQUIRE(rc.ok());
    REQUIRE(ra->entries.size() == 2);  // the directory left out
    CHECK(ra->entries[0].name == "dir/one.txt");
    CHECK(ra->entries[0].bytes == 4);
    CHECK(ra->entries[0].sha256 == sha256_hex("one\n"));
    CHECK(ra->entries[1].name == "two.bin");
    CHECK(ra->entries[1].bytes == big.size());
    CHECK(ra->entries[1].sha256 == sha256_hex(big));
    CHECK(ra->content_sha256 == rb->content_sha256);
    CHECK(ra->content_sha256 != rc->content_sha256);
    auto bytes = read_zip_content_bytes(slurp(a));
    REQUIRE(bytes.ok());
    CHECK(bytes->content_sha256 == ra->content_sha256);
}

// 128 MiB of zeros deflate 1029:1 (zlib's ceiling is about 1032:1), past
// the 1000x guard; bigger would only make the test slower to build the bomb
// (zlib at level 9 makes about 100 MB/s of zeros), the guard is the same.
TEST_CASE("zip: a deflate bomb of zeros is refused after a bounded read") {
    TempDir dir;
    const fs::path path = dir.path() / "bomb.zip";
    Zeros zeros{128ULL * 1024 * 1024};
    {
        int err = 0;
        zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
        REQUIRE(z != nullptr);
        zip_source_t* src = zip_source_function(z, zeros_cb, &zeros);
        REQUIRE(src != nullptr);
        const zip_int64_t i = zip_file_add(z, "zeros.bin", src, 0);
        REQUIRE(i >= 0);
        REQUIRE(zip_set_file_compression(z, static_cast<zip_uint64_t>(i), ZIP_CM_DEFLATE, 9) == 0);
        REQUIRE(zip_close(z) == 0);
    }
    REQUIRE(fs::file_size(path) < 200'000);
    auto ratio = read_zip_content(path.string());
    REQUIRE_FALSE(ratio.ok());
    CHECK(ratio.error().code == make_error_code(Errc::limit_exceeded));
    CHECK(ratio.error().message ==
          "zip: ZIP bomb guard: entry \"zeros.bin\" expands past 1000x its compressed size");

    ZipLimits total;
    total.max_ratio = 1'000'000'000;
    total.max_total = 16 * 1024 * 1024;
    auto over = read_zip_content(path.string(), total);
    REQUIRE_FALSE(over.ok());
    CHECK(over.error().message.find("ZIP bomb guard: the entries expand past 16777216 bytes") !=
          std::string::npos);
}

TEST_CASE("zip: too many entries are refused before any is read") {
    TempDir dir;
    std::vector<Item> items;
    for (int i = 0; i < 12; ++i)
        items.push_back({"f" + std::to_string(i), "x"});
    make_zip(dir.path() / "many.zip", items);
    ZipLimits limits;
    limits.max_entries = 10;
    auto r = read_zip_content((dir.path() / "many.zip").string(), limits);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "zip: 12 entries, over the cap of 10");
    CHECK(read_zip_content((dir.path() / "many.zip").string()).ok());

    // An end record claiming 60000 entries is refused before libzip reads
    // (and allocates for) the central directory.
    std::string claimed = slurp(dir.path() / "many.zip");
    REQUIRE(claimed.size() > 22);
    claimed[claimed.size() - 22 + 10] = static_cast<char>(60000 & 0xFF);
    claimed[claimed.size() - 22 + 11] = static_cast<char>(60000 >> 8);
    auto big = read_zip_content_bytes(claimed);
    REQUIRE_FALSE(big.ok());
    CHECK(big.error().message == "zip: 60000 entries, over the cap of 10000");
    std::ofstream(dir.path() / "claimed.zip", std::ios::binary) << claimed;
    auto big_file = read_zip_content((dir.path() / "claimed.zip").string());
    REQUIRE_FALSE(big_file.ok());
    CHECK(big_file.error().code == make_error_code(Errc::limit_exceeded));
}

TEST_CASE("zip: names with ../, absolute paths and control bytes are only data") {
    TempDir dir;
    const fs::path inner = dir.path() / "run" / "machine";
    fs::create_directories(inner);
    const fs::path path = inner / "evil.zip";
    make_zip(path, {{"../../escaped.txt", "a"},
                    {"/etc/evil.conf", "b"},
                    {"C:\\Windows\\x.dll", "c"},
                    {"esc\x1b[31mred\n", "d"}});
    const auto before = tree(dir.path());
    auto r = read_zip_content(path.string());
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(tree(dir.path()) == before);
    CHECK_FALSE(fs::exists(dir.path() / "escaped.txt"));
    std::vector<std::string> names;
    for (const auto& e : r->entries)
        names.push_back(e.name);
    CHECK(names == std::vector<std::string>{"../../escaped.txt", "/etc/evil.conf",
                                            "C:\\Windows\\x.dll", "esc\x1b[31mred\n"});
}

TEST_CASE("zip: truncated, corrupt and non-ZIP files are errors saying which") {
    TempDir dir;
    const fs::path path = dir.path() / "ok.zip";
    make_zip(path, {{"a.txt", std::string(5000, 'a')}, {"b.txt", std::string(5000, 'b')}});
    const std::string whole = slurp(path);

    auto cut = read_zip_content_bytes(std::string_view(whole).substr(0, whole.size() / 2));
    REQUIRE_FALSE(cut.ok());
    CHECK(cut.error().message.rfind("zip: not a readable ZIP archive: ", 0) == 0);

    std::string flipped = whole;
    const auto le16 = [&whole](std::size_t at) {
        return static_cast<std::size_t>(static_cast<unsigned char>(whole[at])) |
               static_cast<std::size_t>(static_cast<unsigned char>(whole[at + 1])) << 8;
    };
    flipped[30 + le16(26) + le16(28) + 100] ^=
        0x01;  // inside a.txt's stored bytes: the CRC no longer matches
    auto crc = read_zip_content_bytes(flipped);
    REQUIRE_FALSE(crc.ok());
    CHECK_MESSAGE(crc.error().message.rfind("zip: entry \"a.txt\": ", 0) == 0, crc.error().message);

    auto junk = read_zip_content_bytes("this is not a zip archive at all");
    REQUIRE_FALSE(junk.ok());
    CHECK(junk.error().code == make_error_code(Errc::invalid_input));
    auto empty = read_zip_content_bytes("");
    CHECK_FALSE(empty.ok());
}

TEST_CASE("zip: an encrypted entry is refused") {
    TempDir dir;
    const fs::path path = dir.path() / "enc.zip";
    bool encrypted = false;
    make_zip(path, {{"secret.txt", "top secret"}}, "pw", &encrypted);
    if (!encrypted) {
        MESSAGE("this libzip cannot encrypt: skipped");
        return;
    }
    auto r = read_zip_content(path.string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "zip: entry \"secret.txt\" is encrypted; it cannot be compared by content");
}

TEST_CASE("zip: a FIFO and a symbolic link are refused without blocking") {
    TempDir dir;
    const fs::path fifo = dir.path() / "fifo.zip";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto f = read_zip_content(fifo.string());
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().message.find("FIFO") != std::string::npos);
    const fs::path real = dir.path() / "real.zip";
    make_zip(real, {{"a", "a"}});
    fs::create_symlink(real, dir.path() / "link.zip");
    auto l = read_zip_content((dir.path() / "link.zip").string());
    REQUIRE_FALSE(l.ok());
    CHECK(l.error().message.find("symbolic link") != std::string::npos);
}
