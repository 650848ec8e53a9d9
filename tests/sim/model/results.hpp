// What a result link downloads: the RunScript JSON transcript, and for
// GetFile a ZIP (stored, with a data descriptor) holding a file whose bytes
// are a pure function of (machine id, remote path, size), so a test knows
// the expected SHA-256 without the simulator keeping anything. The ZIP is
// streamed through BodySource: a 500 MB download costs a few KB of memory.
#pragma once

#include "sim/model/sim_util.hpp"
#include "sim/sim_http.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lrsched::sim {

// The deterministic bytes of a file collected by GetFile; random access.
class FileContent {
  public:
    FileContent(std::string_view machine_id, std::string_view path, std::uint64_t size);
    std::uint64_t size() const noexcept { return size_; }
    void read_at(std::uint64_t offset, char* buf, std::size_t n) const;

  private:
    std::uint64_t seed_;
    std::uint64_t size_;
};

std::string expected_file_content(std::string_view machine_id,
                                  std::string_view path,
                                  std::uint64_t size);
std::string expected_file_sha256(std::string_view machine_id,
                                 std::string_view path,
                                 std::uint64_t size);

// The ZIP entry's name: the remote path's last component ("C:\\x\\a.zip" -> "a.zip").
std::string zip_entry_name(std::string_view remote_path);

// CRC-32 (IEEE, as ZIP uses), continued from `crc` (0 to start).
std::uint32_t crc32_update(std::uint32_t crc, const char* data, std::size_t n) noexcept;

// The whole ZIP as a stream; `mtime` is the entry's modification time.
std::unique_ptr<BodySource> make_zip_stream(std::string_view machine_id,
                                            std::string_view path,
                                            std::uint64_t size,
                                            Ticks mtime);

// The RunScript transcript JSON the documentation shows.
std::string runscript_transcript(std::string_view action_id,
                                 std::string_view script_name,
                                 std::string_view args,
                                 std::string_view host,
                                 int exit_code,
                                 bool odd_output = false);

}  // namespace lrsched::sim
