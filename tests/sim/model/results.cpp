// Deterministic GetFile content, CRC-32, the streamed stored ZIP and the
// RunScript transcript (see results.hpp).
#include "sim/model/results.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstring>
#include <vector>

namespace lrsched::sim {
namespace {

constexpr std::uint64_t kContentSalt = 0x6c7273696d66696cULL;  // "lrsimfil"

const std::array<std::uint32_t, 256>& crc_table() {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    return table;
}

void put16(std::string& s, std::uint32_t v) {
    s += static_cast<char>(v & 0xff);
    s += static_cast<char>((v >> 8) & 0xff);
}
void put32(std::string& s, std::uint32_t v) {
    put16(s, v & 0xffff);
    put16(s, v >> 16);
}

struct DosTime {
    std::uint32_t time, date;
};

DosTime dos_time(Ticks t) {
    using namespace std::chrono;
    const auto secs = t / kTicksPerSecond;
    const sys_days day{std::chrono::days{secs / 86400}};
    const year_month_day ymd{day};
    const auto in_day = secs % 86400;
    const int y = std::max(1980, int(ymd.year()));
    return {static_cast<std::uint32_t>((in_day / 3600) << 11 | (in_day / 60 % 60) << 5 |
                                       (in_day % 60) / 2),
            static_cast<std::uint32_t>((y - 1980) << 9 | unsigned(ymd.month()) << 5 |
                                       unsigned(ymd.day()))};
}

constexpr std::uint32_t kFlags = 0x0008 | 0x0800;  // data descriptor; UTF-8 name

class ZipStream final : public BodySource {
  public:
    ZipStream(FileContent content, std::string name, Ticks mtime)
        : content_(std::move(content)), name_(std::move(name)), when_(dos_time(mtime)) {
        put32(head_, 0x04034b50);
        put16(head_, 20);
        put16(head_, kFlags);
        put16(head_, 0);  // stored
        put16(head_, when_.time);
        put16(head_, when_.date);
        put32(head_, 0);  // CRC: in the data descriptor
        // The sizes are known in advance; writing them lets a streaming
        // reader find the end of a stored entry.
        put32(head_, static_cast<std::uint32_t>(content_.size()));
        put32(head_, static_cast<std::uint32_t>(content_.size()));
        put16(head_, static_cast<std::uint32_t>(name_.size()));
        put16(head_, 0);
        head_ += name_;
    }

    std::uint64_t size() const override {
        return head_.size() + content_.size() + 16 + 46 + name_.size() + 22;
    }

    std::size_t read(char* buf, std::size_t n) override {
        std::size_t done = 0;
        while (done < n) {
            if (pos_ < head_.size()) {
                const std::size_t k = std::min<std::size_t>(n - done, head_.size() - pos_);
                std::memcpy(buf + done, head_.data() + pos_, k);
                pos_ += k;
                done += k;
                continue;
            }
            const std::uint64_t data_end = head_.size() + content_.size();
            if (pos_ < data_end) {
                const auto k =
                    static_cast<std::size_t>(std::min<std::uint64_t>(n - done, data_end - pos_));
                content_.read_at(pos_ - head_.size(), buf + done, k);
                crc_ = crc32_update(crc_, buf + done, k);
                pos_ += k;
                done += k;
                continue;
            }
            if (tail_.empty()) build_tail(data_end);
            const std::uint64_t off = pos_ - data_end;
            if (off >= tail_.size()) break;
            const auto k =
                static_cast<std::size_t>(std::min<std::uint64_t>(n - done, tail_.size() - off));
            std::memcpy(buf + done, tail_.data() + off, k);
            pos_ += k;
            done += k;
        }
        return done;
    }

  private:
    void build_tail(std::uint64_t data_end) {
        const auto size = static_cast<std::uint32_t>(content_.size());
        put32(tail_, 0x08074b50);
        put32(tail_, crc_);
        put32(tail_, size);
        put32(tail_, size);
        const auto cd_offset = static_cast<std::uint32_t>(data_end + 16);
        put32(tail_, 0x02014b50);
        put16(tail_, 20);
        put16(tail_, 20);
        put16(tail_, kFlags);
        put16(tail_, 0);
        put16(tail_, when_.time);
        put16(tail_, when_.date);
        put32(tail_, crc_);
        put32(tail_, size);
        put32(tail_, size);
        put16(tail_, static_cast<std::uint32_t>(name_.size()));
        put16(tail_, 0);  // extra
        put16(tail_, 0);  // comment
        put16(tail_, 0);  // disk
        put16(tail_, 0);  // internal attributes
        put32(tail_, 0);  // external attributes
        put32(tail_, 0);  // local header offset
        tail_ += name_;
        put32(tail_, 0x06054b50);
        put16(tail_, 0);
        put16(tail_, 0);
        put16(tail_, 1);
        put16(tail_, 1);
        put32(tail_, static_cast<std::uint32_t>(46 + name_.size()));
        put32(tail_, cd_offset);
        put16(tail_, 0);
    }

    FileContent content_;
    std::string name_;
    DosTime when_;
    std::string head_;
    std::string tail_;
    std::uint64_t pos_ = 0;
    std::uint32_t crc_ = 0;
};

}  // namespace

FileContent::FileContent(std::string_view machine_id, std::string_view path, std::uint64_t size)
    : seed_(hash_of(kContentSalt, std::string(machine_id) + '\n' + std::string(path))),
      size_(size) {}

void FileContent::read_at(std::uint64_t offset, char* buf, std::size_t n) const {
    // Byte i is byte (i % 8) of mix64(seed + i / 8): random access, no state.
    for (std::size_t i = 0; i < n;) {
        const std::uint64_t at = offset + i;
        const std::uint64_t word = mix64(seed_ + at / 8);
        for (std::uint64_t b = at % 8; b < 8 && i < n; ++b, ++i)
            buf[i] = static_cast<char>((word >> (8 * b)) & 0xff);
    }
}

std::string expected_file_content(std::string_view machine_id,
                                  std::string_view path,
                                  std::uint64_t size) {
    const FileContent content(machine_id, path, size);
    std::string out(static_cast<std::size_t>(size), '\0');
    content.read_at(0, out.data(), out.size());
    return out;
}

std::string expected_file_sha256(std::string_view machine_id,
                                 std::string_view path,
                                 std::uint64_t size) {
    const FileContent content(machine_id, path, size);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 16);
    for (std::uint64_t off = 0; off < size;) {
        const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
        content.read_at(off, buf.data(), k);
        EVP_DigestUpdate(ctx, buf.data(), k);
        off += k;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    return to_hex(md, len);
}

std::string zip_entry_name(std::string_view remote_path) {
    const auto cut = remote_path.find_last_of("\\/:");
    std::string name(cut == std::string_view::npos ? remote_path : remote_path.substr(cut + 1));
    if (name.size() > 255) name.resize(255);
    if (name.empty() || name == "." || name == "..") name = "file";
    return name;
}

std::uint32_t crc32_update(std::uint32_t crc, const char* data, std::size_t n) noexcept {
    const auto& t = crc_table();
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i)
        crc = t[(crc ^ static_cast<unsigned char>(data[i])) & 0xff] ^ (crc >> 8);
    return ~crc;
}

std::unique_ptr<BodySource> make_zip_stream(std::string_view machine_id,
                                            std::string_view path,
                                            std::uint64_t size,
                                            Ticks mtime) {
    return std::make_unique<ZipStream>(FileContent(machine_id, path, size), zip_entry_name(path),
                                       mtime);
}

std::string runscript_transcript(std::string_view action_id,
                                 std::string_view script_name,
                                 std::string_view args,
                                 std::string_view host,
                                 int exit_code,
                                 bool odd_output) {
    // As the API documents it (mde-api.md §3): the transcript's path, named
    // after the action, before the output and again after it; the ids make
    // two runs' files differ where the output does not.
    const std::string file =
        "C:\\ProgramData\\Microsoft\\Windows Defender Advanced Threat "
        "Protection\\Temp\\PSScriptOutputs\\PSScript_Transcript_" +
        std::string(action_id) + ".txt";
    std::string out = "Transcript started, output file is " + file + "\r\n";
    // Real transcripts carry stray NULs from UTF-16 output; clients must cope.
    out += std::string("\0\0", 2) + "lrsched-sim ran " + std::string(script_name);
    if (!args.empty()) out += " " + std::string(args);
    // The same output on every machine but the odd ones, as most scripts'
    // (what `lrsched stack` counts); the host only in an odd machine's.
    out += "\r\n";
    if (odd_output) out += "odd one out: " + std::string(host) + "\r\n";
    out += std::string(1, '\0') + "done\r\n";
    out += "Transcript stopped, output file is " + file + "\r\n";
    const nlohmann::json j = {{"script_name", script_name},
                              {"exit_code", exit_code},
                              {"script_output", out},
                              {"script_errors", exit_code == 0 ? "" : "simulated error\r\n"}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace lrsched::sim
