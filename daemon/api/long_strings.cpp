#include "api/long_strings.hpp"

namespace lrsched::api {

void LongStringFilter::feed(std::string_view chunk, std::string& out) {
    for (const char c : chunk) {
        switch (state_) {
            case State::after_long:
                // Whitespace between a string and what follows is
                // insignificant: dropped while we wait to see a ':' or not.
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') break;
                settle(c == ':', out);
                [[fallthrough]];
            case State::outside:
                if (c == '"') {
                    // Held back until its end says whether it is too long.
                    state_ = State::inside;
                    current_.assign(1, '"');
                    too_long_ = false;
                } else {
                    out += c;
                }
                break;
            case State::inside:
                if (c == '"') {
                    if (too_long_) {
                        state_ = State::after_long;
                    } else {
                        out += current_;
                        out += '"';
                        state_ = State::outside;
                    }
                    break;
                }
                if (c == '\\') state_ = State::escape;
                keep(c);
                break;
            case State::escape:  // the byte after a backslash: never the closing quote
                state_ = State::inside;
                keep(c);
                break;
        }
    }
}

void LongStringFilter::keep(char c) {
    if (too_long_) return;
    current_ += c;
    if (current_.size() - 1 > max_) {
        too_long_ = true;
        current_ = std::string();  // its memory goes now
    }
}

void LongStringFilter::finish(std::string& out) {
    if (state_ == State::after_long) settle(false, out);
    if (state_ == State::inside || state_ == State::escape) out += current_;  // left invalid
    state_ = State::outside;
}

void LongStringFilter::settle(bool is_key, std::string& out) {
    out += is_key ? "\"\"" : "null";
    ++replaced_;
    state_ = State::outside;
}

}  // namespace lrsched::api
