#include "common/log_text.hpp"

#include "common/diagnostic.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>

#include <algorithm>

namespace lrsched {
namespace {

bool is_plain(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '@' || c == '-';
}

// Wraps the pattern formatter: the message is escaped before the pattern
// places it, so the time and level stay as they are and the line ends once.
class EscapingFormatter final : public spdlog::formatter {
  public:
    explicit EscapingFormatter(std::unique_ptr<spdlog::formatter> inner)
        : inner_(std::move(inner)) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const std::string_view text(msg.payload.data(), msg.payload.size());
        if (is_printable_ascii(text)) return inner_->format(msg, dest);
        const std::string escaped = escape_log_message(text);
        spdlog::details::log_msg copy = msg;
        copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
        inner_->format(copy, dest);
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<EscapingFormatter>(inner_->clone());
    }

  private:
    std::unique_ptr<spdlog::formatter> inner_;
};

}  // namespace

std::string log_value(std::string_view value, std::size_t max_len) {
    const bool plain = !value.empty() && value.size() <= max_len &&
                       std::all_of(value.begin(), value.end(),
                                   [](char c) { return is_plain(static_cast<unsigned char>(c)); });
    return plain ? std::string(value) : quote_value(value, max_len);
}

std::string log_error(std::string_view message) {
    return quote_value(message, kLogMessageMax);
}

bool is_printable_ascii(std::string_view text) noexcept {
    return std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f;
    });
}

std::string escape_log_message(std::string_view message) {
    std::string out;
    out.reserve(message.size() + 16);
    for (const char ch : message) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f)
            out += ch;
        else
            out += escape_byte(c);
    }
    return out;
}

std::unique_ptr<spdlog::formatter> text_log_formatter() {
    return std::make_unique<EscapingFormatter>(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc));
}

}  // namespace lrsched
