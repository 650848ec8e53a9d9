// A fresh directory under $TMPDIR for one test, removed with everything in
// it when the TempDir goes out of scope.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace lrsched::test {

class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    // Writes `content` to `relative` (parents created) and returns its path.
    std::filesystem::path write(std::string_view relative, std::string_view content) const;

  private:
    std::filesystem::path path_;
};

}  // namespace lrsched::test
