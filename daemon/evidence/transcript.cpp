// The streaming JSON reader of a RunScript transcript (transcript.hpp). A
// hand-written tokenizer for one top-level object of scalar values, fed one
// byte at a time so a chunk boundary can fall anywhere: nlohmann/json would
// hold the whole 100 MB string. Tolerant where the API's files need it (raw
// NUL and control bytes inside strings), strict elsewhere (a key past 1 KiB,
// nesting past a cap, a bad escape, anything after the object).
#include "evidence/transcript.hpp"

#include "common/diagnostic.hpp"
#include "common/safe_file.hpp"
#include "evidence/transcript_text.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <unistd.h>

namespace lrsched::evidence {

namespace {

constexpr std::size_t kChunk = std::size_t{64} * 1024;
constexpr std::size_t kKeyCap = 1024;
constexpr std::size_t kNameCap = 1024;
constexpr std::size_t kLiteralCap = 64;
constexpr int kDepthCap = 32;

bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

bool json_number(std::string_view s) {
    if (s.empty() || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) return false;
    double d = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

class Reader {
  public:
    explicit Reader(std::size_t preview_cap)
        : output_(preview_cap, true), errors_(preview_cap, false) {}

    Result<void> feed(std::string_view chunk);
    Result<Transcript> finish();
    std::size_t held() const {
        return output_.held() + errors_.held() + key_.capacity() + literal_.capacity() +
               t_.script_name.capacity();
    }

  private:
    enum class St {
        before,
        key_or_end,
        key,
        in_key,
        colon,
        value,
        in_string,
        literal,
        comma_or_end,
        skip,
        after
    };
    enum class Field { none, name, output, errors, other };

    Result<void> step(char c);
    Result<void> string_byte(char c, bool& ended);
    void emit(std::string_view s);
    void emit_cp(std::uint32_t cp);
    Result<void> begin_value();
    Result<void> end_literal();
    Error fail(std::string what) const {
        return Error(Errc::invalid_input,
                     "transcript: offset " + std::to_string(offset_) + ": " + std::move(what));
    }

    St st_ = St::before;
    std::uint64_t offset_ = 0;
    std::string key_;
    std::string literal_;
    Field field_ = Field::none;
    bool key_phase_ = false;  // the string being read is a key
    // String escapes: after '\', inside \uXXXX, a high surrogate waiting for its low half.
    bool esc_ = false;
    int hex_left_ = 0;
    std::uint32_t hex_ = 0;
    std::uint32_t high_ = 0;
    // Skipping a nested array or object.
    int depth_ = 0;
    bool skip_str_ = false, skip_esc_ = false;
    bool seen_name_ = false, seen_code_ = false, seen_output_ = false, seen_errors_ = false;
    detail::TextField output_, errors_;
    Transcript t_;
};

// Plain string bytes go to their field a run at a time (found with memchr):
// one call per byte through the tokenizer would make 100 MB slow.
Result<void> Reader::feed(std::string_view chunk) {
    std::size_t quote = 0, slash = 0;  // the next '"' and '\\' at or after i
    bool fresh = true;
    for (std::size_t i = 0; i < chunk.size();) {
        if (st_ == St::in_string && !esc_ && hex_left_ == 0 && high_ == 0) {
            if (fresh || quote < i) quote = std::min(chunk.find('"', i), chunk.size());
            if (fresh || slash < i) slash = std::min(chunk.find('\\', i), chunk.size());
            fresh = false;
            const std::size_t end = std::min(quote, slash);
            if (end > i) {
                emit(chunk.substr(i, end - i));
                offset_ += end - i;
                i = end;
                continue;
            }
        }
        if (auto r = step(chunk[i]); !r) return r;
        ++offset_;
        ++i;
    }
    return ok();
}

void Reader::emit(std::string_view s) {
    if (key_phase_) {
        key_.append(s);
        return;
    }
    switch (field_) {
        case Field::name:
            if (t_.script_name.size() < kNameCap)
                t_.script_name.append(s.substr(0, kNameCap - t_.script_name.size()));
            break;
        case Field::output:
            output_.write(s);
            break;
        case Field::errors:
            errors_.write(s);
            break;
        default:
            break;
    }
}

void Reader::emit_cp(std::uint32_t cp) {
    std::string u;
    append_utf8(u, cp);
    emit(u);
}

// One byte of a string after its opening quote; `ended` on the closing one.
Result<void> Reader::string_byte(char c, bool& ended) {
    if (hex_left_ > 0) {
        int v = -1;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        if (v < 0)
            return fail("bad \\u escape: " + quote_value(std::string_view(&c, 1)) +
                        " is not a hex digit");
        hex_ = hex_ * 16 + static_cast<std::uint32_t>(v);
        if (--hex_left_ > 0) return ok();
        const std::uint32_t cp = hex_;
        if (high_ != 0) {
            const std::uint32_t high = high_;
            high_ = 0;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                emit_cp(0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00));
                return ok();
            }
            emit_cp(0xFFFD);  // a lone high surrogate
        }
        if (cp >= 0xD800 && cp <= 0xDBFF)
            high_ = cp;
        else if (cp >= 0xDC00 && cp <= 0xDFFF)
            emit_cp(0xFFFD);
        else
            emit_cp(cp);
        return ok();
    }
    if (esc_) {
        esc_ = false;
        if (c == 'u') {
            hex_left_ = 4;
            hex_ = 0;
            return ok();
        }
        if (high_ != 0) {
            high_ = 0;
            emit_cp(0xFFFD);
        }
        char d = 0;
        switch (c) {
            case '"':
                d = '"';
                break;
            case '\\':
                d = '\\';
                break;
            case '/':
                d = '/';
                break;
            case 'b':
                d = '\b';
                break;
            case 'f':
                d = '\f';
                break;
            case 'n':
                d = '\n';
                break;
            case 'r':
                d = '\r';
                break;
            case 't':
                d = '\t';
                break;
            default:
                return fail("bad escape \\" + quote_value(std::string_view(&c, 1)).substr(1));
        }
        emit(std::string_view(&d, 1));
        return ok();
    }
    if (c == '\\') {
        esc_ = true;
        return ok();
    }
    if (high_ != 0) {
        high_ = 0;
        emit_cp(0xFFFD);
    }
    if (c == '"') {
        ended = true;
        return ok();
    }
    if (key_phase_ && key_.size() >= kKeyCap)
        return Error(Errc::limit_exceeded, "transcript: offset " + std::to_string(offset_) +
                                               ": a key longer than 1024 bytes");
    emit(std::string_view(&c,
                          1));  // raw control bytes and NULs are tolerated, as the API writes them
    return ok();
}

Result<void> Reader::begin_value() {
    field_ = Field::other;
    bool* seen = nullptr;
    if (key_ == "script_name")
        field_ = Field::name, seen = &seen_name_;
    else if (key_ == "script_output")
        field_ = Field::output, seen = &seen_output_;
    else if (key_ == "script_errors")
        field_ = Field::errors, seen = &seen_errors_;
    else if (key_ == "exit_code")
        seen = &seen_code_;
    if (seen != nullptr) {
        if (*seen) return fail("the key " + quote_value(key_) + " appears twice");
        *seen = true;
    }
    return ok();
}

Result<void> Reader::end_literal() {
    const std::string_view lit = literal_;
    if (lit != "true" && lit != "false" && lit != "null" && !json_number(lit))
        return fail("not a JSON value: " + quote_value(lit));
    if (key_ == "exit_code") {
        std::int64_t v = 0;
        const auto r = std::from_chars(lit.data(), lit.data() + lit.size(), v);
        if (r.ec == std::errc() && r.ptr == lit.data() + lit.size()) t_.exit_code = v;
    } else if (field_ == Field::name || field_ == Field::output || field_ == Field::errors) {
        if (lit != "null") return fail("the value of " + quote_value(key_) + " is not a string");
        if (field_ == Field::output) output_.finish();  // null: an empty text
        if (field_ == Field::errors) errors_.finish();
    }
    literal_.clear();
    st_ = St::comma_or_end;
    return ok();
}

Result<void> Reader::step(char c) {
    switch (st_) {
        case St::before:
            if (is_ws(c)) return ok();
            if (c != '{') return fail("not a JSON object");
            st_ = St::key_or_end;
            return ok();
        case St::key_or_end:
        case St::key:
            if (is_ws(c)) return ok();
            if (c == '}' && st_ == St::key_or_end) {
                st_ = St::after;
                return ok();
            }
            if (c != '"') return fail("a key was expected");
            key_.clear();
            key_phase_ = true;
            st_ = St::in_key;
            return ok();
        case St::in_key:
        case St::in_string: {
            bool ended = false;
            if (auto r = string_byte(c, ended); !r) return r;
            if (!ended) return ok();
            if (st_ == St::in_key) {
                key_phase_ = false;
                st_ = St::colon;
                return ok();
            }
            if (field_ == Field::output) output_.finish();
            if (field_ == Field::errors) errors_.finish();
            st_ = St::comma_or_end;
            return ok();
        }
        case St::colon:
            if (is_ws(c)) return ok();
            if (c != ':') return fail("':' was expected after the key " + quote_value(key_));
            if (auto r = begin_value(); !r) return r;
            st_ = St::value;
            return ok();
        case St::value:
            if (is_ws(c)) return ok();
            if (c == '"') {
                st_ = St::in_string;
                return ok();
            }
            if (c == '{' || c == '[') {
                if (field_ != Field::other)
                    return fail("the value of " + quote_value(key_) + " is not a string");
                depth_ = 1;
                skip_str_ = skip_esc_ = false;
                st_ = St::skip;
                return ok();
            }
            st_ = St::literal;
            literal_.clear();
            [[fallthrough]];
        case St::literal:
            if (is_ws(c) || c == ',' || c == '}') {
                if (auto r = end_literal(); !r) return r;
                return step(c);
            }
            if (literal_.size() >= kLiteralCap)
                return fail("a value longer than 64 bytes that is not a string");
            literal_.push_back(c);
            return ok();
        case St::comma_or_end:
            if (is_ws(c)) return ok();
            if (c == ',')
                st_ = St::key;
            else if (c == '}')
                st_ = St::after;
            else
                return fail("',' or '}' was expected");
            return ok();
        case St::skip:
            if (skip_str_) {
                if (skip_esc_)
                    skip_esc_ = false;
                else if (c == '\\')
                    skip_esc_ = true;
                else if (c == '"')
                    skip_str_ = false;
                return ok();
            }
            if (c == '"')
                skip_str_ = true;
            else if (c == '{' || c == '[') {
                if (++depth_ > kDepthCap)
                    return Error(Errc::limit_exceeded,
                                 "transcript: offset " + std::to_string(offset_) +
                                     ": nested deeper than " + std::to_string(kDepthCap));
            } else if (c == '}' || c == ']') {
                if (--depth_ == 0) st_ = St::comma_or_end;
            }
            return ok();
        case St::after:
            if (is_ws(c)) return ok();
            return fail("data after the JSON object");
    }
    return ok();
}

Result<Transcript> Reader::finish() {
    if (st_ == St::literal) {
        if (auto r = end_literal(); !r) return std::move(r).error();
    }
    if (st_ == St::before) return fail("empty, not a JSON object");
    if (st_ != St::after) return fail("truncated: the JSON object does not end");
    if (!seen_output_) return fail("no \"script_output\" key");
    t_.output = std::move(output_.part);
    t_.header = std::move(output_.header);
    t_.footer = std::move(output_.footer);
    if (!seen_errors_) errors_.finish();
    t_.errors = std::move(errors_.part);
    return std::move(t_);
}

}  // namespace

Result<Transcript> read_transcript_bytes(std::string_view bytes, std::size_t preview_cap) {
    Reader reader(preview_cap);
    std::size_t peak = 0;
    for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
        if (auto r = reader.feed(bytes.substr(at, kChunk)); !r) return std::move(r).error();
        peak = std::max(peak, reader.held());
    }
    auto t = reader.finish();
    if (t) t->peak_held = std::max(peak, reader.held());
    return t;
}

Result<Transcript> read_transcript(const std::string& path, std::size_t preview_cap) {
    auto file = RegularFile::open(path, Links::refuse);
    if (!file) return Error(file.error().code, "transcript: " + file.error().message);
    Reader reader(preview_cap);
    std::string buf(kChunk, '\0');
    std::size_t peak = 0;
    std::uint64_t at = 0;
    for (;;) {
        const ssize_t n = ::read(file->fd(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return Error(Errc::io_error, "transcript: offset " + std::to_string(at) +
                                             ": cannot read: " + std::strerror(errno));
        if (n == 0) break;
        at += static_cast<std::uint64_t>(n);
        if (auto r = reader.feed(std::string_view(buf.data(), static_cast<std::size_t>(n))); !r)
            return std::move(r).error();
        peak = std::max(peak, reader.held() + buf.capacity());
    }
    auto t = reader.finish();
    if (t) t->peak_held = std::max(peak, reader.held() + buf.capacity());
    return t;
}

}  // namespace lrsched::evidence
