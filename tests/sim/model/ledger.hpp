// The simulator's ledger: one JSON line per action creation and per status
// change, flushed per line, so a test can check invariants after the client
// under test was killed. A few lines per action; the only file the model writes.
#pragma once

#include "common/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace lrsched::sim {

class Ledger {
  public:
    virtual ~Ledger() = default;
    virtual void append(const nlohmann::json& line) = 0;
};

// Appends to a file (created if needed); each line is flushed to the OS at once.
class FileLedger final : public Ledger {
  public:
    static Result<std::unique_ptr<FileLedger>> open(const std::string& path);
    ~FileLedger() override;
    FileLedger(const FileLedger&) = delete;
    FileLedger& operator=(const FileLedger&) = delete;
    void append(const nlohmann::json& line) override;

  private:
    explicit FileLedger(std::FILE* f) : file_(f) {}
    std::FILE* file_;
};

// Keeps the lines in memory (tests).
class MemoryLedger final : public Ledger {
  public:
    void append(const nlohmann::json& line) override { lines.push_back(line); }
    std::vector<nlohmann::json> lines;
};

}  // namespace lrsched::sim
