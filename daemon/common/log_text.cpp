#include "common/log_text.hpp"

#include "common/diagnostic.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>

#include <algorithm>
#include <chrono>
#include <optional>

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

// JSON records: the time, level and message by json_log_record(), one per
// line (the sink adds nothing; spdlog's pattern is not used).
class JsonFormatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                .count();
        const auto level = spdlog::level::to_string_view(msg.level);
        const std::string record =
            json_log_record(ms, std::string_view(level.data(), level.size()),
                            std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(record.data(), record.data() + record.size());
        dest.push_back('\n');
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonFormatter>();
    }
};

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// quote_value()'s form read back; `at` is on the opening quote and is left
// after the closing one. nullopt for a quote never closed.
std::optional<std::string> read_quoted(std::string_view text, std::size_t& at) {
    std::string out;
    for (++at; at < text.size(); ++at) {
        const char c = text[at];
        if (c == '"') {
            ++at;
            return out;
        }
        if (c != '\\' || at + 1 >= text.size()) {
            out += c;
            continue;
        }
        const char e = text[++at];
        if (e == 'n') {
            out += '\n';
        } else if (e == 'r') {
            out += '\r';
        } else if (e == 't') {
            out += '\t';
        } else if (e == 'x' && at + 2 < text.size() && hex_digit(text[at + 1]) >= 0 &&
                   hex_digit(text[at + 2]) >= 0) {
            out += static_cast<char>(hex_digit(text[at + 1]) * 16 + hex_digit(text[at + 2]));
            at += 2;
        } else {
            out += e;  // \" and \\, and anything else as written
        }
    }
    return std::nullopt;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> log_fields(std::string_view message) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t at = 0;
    while (at < message.size()) {
        if (message[at] == '"') {
            if (!read_quoted(message, at)) break;
            continue;
        }
        const bool word_start = at == 0 || message[at - 1] == ' ';
        std::size_t end = at;
        while (word_start && end < message.size() &&
               ((message[end] >= 'a' && message[end] <= 'z') || message[end] == '_'))
            ++end;
        if (end == at || end >= message.size() || message[end] != '=') {
            ++at;
            continue;
        }
        std::string key(message.substr(at, end - at));
        at = end + 1;
        if (at < message.size() && message[at] == '"') {
            auto value = read_quoted(message, at);
            if (!value) break;
            out.emplace_back(std::move(key), std::move(*value));
        } else {
            const std::size_t stop = std::min(message.find(' ', at), message.size());
            out.emplace_back(std::move(key), std::string(message.substr(at, stop - at)));
            at = stop;
        }
    }
    return out;
}

std::string json_log_record(std::int64_t unix_ms,
                            std::string_view level,
                            std::string_view message) {
    nlohmann::ordered_json j;
    j["time"] = utc_iso8601(unix_ms, TimePrecision::milliseconds);
    j["level"] = std::string(level);
    j["message"] = std::string(message);
    for (auto& [key, value] : log_fields(message)) {
        if (key == "time" || key == "level" || key == "message") key = "field_" + key;
        if (!j.contains(key)) j[key] = std::move(value);
    }
    // ensure_ascii: no byte outside printable ASCII reaches the file (the
    // text format's promise: no terminal sequence, whatever the reader).
    return j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<spdlog::formatter> json_log_formatter() {
    return std::make_unique<JsonFormatter>();
}

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
