// LongStringFilter: a JSON text streamed through it comes out with every
// string literal longer than a cap (in bytes as sent) replaced, so that a
// listing of 10^5 machines whose names are 6 KB each is never held whole
// (issue 10, C12). Fed the body of a machines page chunk by chunk as it
// arrives: 10,000 entities of 6 KB names leave ~7 MB of text instead of 70.
//
// An over-long value becomes `null` (its member then reads as absent); an
// over-long key becomes "" (no field of ours is named so). The cap is in raw
// bytes: it must be at least 6 times the longest decoded string the reader
// keeps (\uXXXX is 6 bytes for 1), so that nothing the reader would keep is
// ever replaced. Valid JSON in, valid JSON out; invalid JSON stays invalid.
//
// Pure: no I/O. Expected load: every byte of every machines page, once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lrsched::api {

class LongStringFilter {
  public:
    explicit LongStringFilter(std::size_t max_raw_bytes) : max_(max_raw_bytes) {}

    // Appends what `chunk` becomes to `out`; a string may span chunks.
    void feed(std::string_view chunk, std::string& out);
    // The end of the text: settles a replacement still waiting for the byte
    // that says whether it was a key.
    void finish(std::string& out);
    // Strings replaced so far.
    std::size_t replaced() const noexcept { return replaced_; }

  private:
    enum class State { outside, inside, escape, after_long };

    void keep(char c);
    void settle(bool is_key, std::string& out);

    std::size_t max_;
    State state_ = State::outside;
    std::string current_;  // the string being read, quote included, up to max_ bytes
    bool too_long_ = false;
    std::size_t replaced_ = 0;
};

}  // namespace lrsched::api
