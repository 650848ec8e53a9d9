// SHA-256 over data that arrives in pieces (job files, evidence streamed to
// disk), as lower-case hex. OpenSSL's EVP interface underneath.
#pragma once

#include "common/result.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace lrsched {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(std::string_view data);
    // The digest as 64 hex characters; the hasher is spent afterwards.
    std::string hex_digest();

  private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view data);

// Hashes a file by streaming it; errors name the file.
Result<std::string> sha256_file(const std::string& path);

}  // namespace lrsched
