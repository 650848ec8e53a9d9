// Diagnostics for operator-written files (job files, configuration, target
// lists): every message names the file, line and column (1:1 for the whole
// file), and a parser collects all of them instead of stopping at the first.
#pragma once

#include <string>
#include <vector>

namespace lrsched {

struct Location {
    std::string file;
    int line = 0;  // 1-based; 0 when unknown (Diagnostics then records 1:1)
    int col = 0;   // 1-based; 0 when unknown
};

enum class Severity { error, warning };

struct Diagnostic {
    Location where;
    Severity severity = Severity::error;
    std::string message;

    // "file:line:col: message" for errors, "file:line:col: warning: message"
    // for warnings; the form compilers use, so editors can jump to it.
    std::string to_string() const;
};

class Diagnostics {
  public:
    void error(Location where, std::string message);
    void warning(Location where, std::string message);
    void append(const Diagnostics& other);

    bool has_errors() const noexcept { return errors_ > 0; }
    std::size_t error_count() const noexcept { return errors_; }
    const std::vector<Diagnostic>& all() const noexcept { return items_; }
    std::string to_string() const;  // one line per diagnostic

  private:
    std::vector<Diagnostic> items_;
    std::size_t errors_ = 0;
};

// Quotes an operator-supplied value for a message: printable ASCII as is,
// control characters and non-ASCII bytes escaped, long values cut, so a
// hostile file cannot forge log lines (CWE-117).
std::string quote_value(std::string_view value, std::size_t max_len = 80);

}  // namespace lrsched
