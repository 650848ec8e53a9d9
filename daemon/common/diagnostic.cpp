#include "common/diagnostic.hpp"

#include <cstdio>

namespace lrsched {

std::string Diagnostic::to_string() const {
    std::string out = where.file;
    if (where.line > 0) {
        out += ':' + std::to_string(where.line);
        if (where.col > 0) out += ':' + std::to_string(where.col);
    }
    out += ": ";
    if (severity == Severity::warning) out += "warning: ";
    out += message;
    return out;
}

namespace {

// Every message names a position (README): one about the whole file, or
// whose place is not known, points at its start.
Location positioned(Location where) {
    if (where.line <= 0) where.line = where.col = 1;
    if (where.col <= 0) where.col = 1;
    return where;
}

}  // namespace

void Diagnostics::error(Location where, std::string message) {
    items_.push_back({positioned(std::move(where)), Severity::error, std::move(message)});
    ++errors_;
}

void Diagnostics::warning(Location where, std::string message) {
    items_.push_back({positioned(std::move(where)), Severity::warning, std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
    for (const auto& d : other.items_)
        items_.push_back(d);
    errors_ += other.errors_;
}

std::string Diagnostics::to_string() const {
    std::string out;
    for (const auto& d : items_)
        out += d.to_string() + '\n';
    return out;
}

std::string quote_value(std::string_view value, std::size_t max_len) {
    std::string out = "\"";
    std::size_t shown = 0;
    for (unsigned char c : value) {
        if (shown++ == max_len) {
            // The marker says a value was cut, and how long it was.
            out += "...(" + std::to_string(value.size()) + " bytes)";
            break;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += escape_byte(c);
        }
    }
    out += '"';
    return out;
}

std::string escape_byte(unsigned char c) {
    switch (c) {
        case '\n':
            return "\\n";
        case '\r':
            return "\\r";
        case '\t':
            return "\\t";
        default: {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            return buf;
        }
    }
}

}  // namespace lrsched
