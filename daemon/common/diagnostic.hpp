// Diagnostics for operator-written files (job files, configuration, target
// lists): every message names the file, line and column (1:1 for the whole
// file), and a parser collects all of them instead of stopping at the first.
#pragma once

#include <string>
#include <string_view>
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

// Quotes a value from outside (a file, a server) for a message: printable
// ASCII as is, `"` and `\` as \" and \\, newline, CR and tab as \n, \r
// and \t, every other control or non-ASCII byte as \xNN; a value longer
// than max_len bytes is cut, with "...(N bytes)" before the closing quote.
// A hostile value can then neither forge a log line (CWE-117) nor send a
// terminal sequence. Log lines use log_value() (log_text.hpp), built on it.
std::string quote_value(std::string_view value, std::size_t max_len = 80);

// A control or non-ASCII byte as quote_value() writes it: \n, \r, \t or \xNN.
std::string escape_byte(unsigned char c);

}  // namespace lrsched
