#include "common/yaml_guard.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <istream>
#include <optional>
#include <unordered_map>

namespace lrsched {
namespace {

// Length of the UTF-8 character starting at text[i], or 0 when the bytes
// there are not one (Unicode 15, table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) -> unsigned {
        return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0x100;
    };
    const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
        return byte(k) >= lo && byte(k) <= hi;
    };
    const unsigned b = byte(0);
    if (b < 0x80) return 1;
    if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
    if (b == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if (b == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (b >= 0xe1 && b <= 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (b == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// An upper bound on the tokens yaml-cpp can make of a stretch of text. Every
// token begins at an indicator character or after a blank; yaml-cpp adds at
// most a few of its own (a potential key, a block start) per such byte.
// Counted per 64-byte block so that a bound costs two lookups.
class TokenIndex {
  public:
    explicit TokenIndex(std::string_view text) {
        prefix_.reserve(text.size() / kBlock + 2);
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (i % kBlock == 0) prefix_.push_back(n);
            const char c = text[i];
            if (!is_blank(c) && (std::strchr("[]{},:?-&*!|>'\"%#@`", c) != nullptr || i == 0 ||
                                 is_blank(text[i - 1])))
                ++n;
        }
        prefix_.push_back(n);
    }
    // At least the number of token starts in [from, to).
    std::uint64_t between(std::size_t from, std::size_t to) const {
        const std::size_t hi = std::min((to + kBlock - 1) / kBlock, prefix_.size() - 1);
        const std::size_t lo = std::min(from / kBlock, hi);
        return prefix_[hi] - prefix_[lo];
    }

  private:
    static constexpr std::size_t kBlock = 64;
    std::vector<std::uint64_t> prefix_;  // token starts before each block
};

// Hands yaml-cpp the text a small chunk at a time and ends it early (as if
// the file ended there) once the scanner would run more tokens ahead of the
// last event than the lookahead cap allows.
class GuardedBuf final : public std::streambuf {
  public:
    GuardedBuf(std::string_view text,
               const TokenIndex& index,
               std::uint64_t max_tokens,
               const std::size_t& last_event)
        : text_(text), index_(index), max_tokens_(max_tokens), last_event_(last_event) {}

    // Where the input was cut, when it was, and the last event before the
    // cut (yaml-cpp delivers the rest of its queue once it sees the end).
    std::optional<std::size_t> cut_at() const { return cut_at_; }
    std::size_t last_event_at_cut() const { return last_event_at_cut_; }

  protected:
    int_type underflow() override {
        if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
        const std::size_t pos = served_;
        if (pos >= text_.size() || cut_at_) return traits_type::eof();
        const std::size_t end = std::min(pos + kChunk, text_.size());
        if (index_.between(last_event_, end) > max_tokens_) {
            cut_at_ = pos;
            last_event_at_cut_ = last_event_;
            return traits_type::eof();
        }
        char* base = const_cast<char*>(text_.data());  // NOLINT: read only; no putback writes
        setg(base, base + pos, base + end);
        served_ = end;
        return traits_type::to_int_type(*gptr());
    }

  private:
    static constexpr std::size_t kChunk = 256;
    std::string_view text_;
    const TokenIndex& index_;
    std::uint64_t max_tokens_;
    const std::size_t& last_event_;
    std::size_t served_ = 0;
    std::optional<std::size_t> cut_at_;
    std::size_t last_event_at_cut_ = 0;
};

// Thrown from inside yaml-cpp's parse to stop it at the first cap crossed.
struct CapExceeded {
    YAML::Mark mark;
    std::string message;
};

// Counts nodes and scalar bytes as they would be after alias expansion,
// tracks depth, and notes how far into the text events have come.
class BoundingHandler final : public YAML::EventHandler {
  public:
    explicit BoundingHandler(const YamlLimits& limits) : limits_(limits) {}

    const std::size_t& last_event() const noexcept { return last_event_; }

    void OnDocumentStart(const YAML::Mark& mark) override { seen(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, 0); }
    void OnScalar(const YAML::Mark& mark,
                  const std::string&,
                  YAML::anchor_t anchor,
                  const std::string& value) override {
        leaf(mark, anchor, value.size());
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        seen(mark);
        const auto it = sizes_.find(anchor);
        if (it == sizes_.end())
            throw CapExceeded{mark, "alias refers to an anchor that encloses it"};
        add(mark, it->second);
    }
    void OnSequenceStart(const YAML::Mark& mark,
                         const std::string&,
                         YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, anchor);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark,
                    const std::string&,
                    YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, anchor);
    }
    void OnMapEnd() override { close(); }

  private:
    struct Size {
        std::uint64_t nodes = 0, bytes = 0;
    };
    struct Open {
        YAML::anchor_t anchor;
        Size start;
    };

    static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
    }
    void seen(const YAML::Mark& mark) {
        if (!mark.is_null())
            last_event_ = std::max(last_event_, static_cast<std::size_t>(mark.pos));
    }
    void add(const YAML::Mark& mark, Size n) {
        // Saturating: a doubling chain of aliases overflows 64 bits quickly.
        total_.nodes = saturating_add(total_.nodes, n.nodes);
        total_.bytes = saturating_add(total_.bytes, n.bytes);
        if (total_.nodes > limits_.max_nodes)
            throw CapExceeded{mark, "document expands to more than " +
                                        std::to_string(limits_.max_nodes) +
                                        " nodes (node cap; aliases count once per use)"};
        if (total_.bytes > limits_.max_expanded_bytes)
            throw CapExceeded{mark, "document expands to more than " +
                                        std::to_string(limits_.max_expanded_bytes) +
                                        " bytes of text (expansion cap; an alias counts the "
                                        "text of its anchor once per use)"};
    }
    void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t bytes) {
        seen(mark);
        add(mark, {1, bytes});
        if (anchor != 0) sizes_[anchor] = {1, bytes};
    }
    void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
        seen(mark);
        if (static_cast<int>(stack_.size()) >= limits_.max_depth)
            throw CapExceeded{mark, "nesting deeper than " + std::to_string(limits_.max_depth) +
                                        " levels (depth cap)"};
        const Size before = total_;
        add(mark, {1, 0});
        stack_.push_back({anchor, before});
    }
    void close() {
        const Open o = stack_.back();
        stack_.pop_back();
        if (o.anchor != 0)
            sizes_[o.anchor] = {total_.nodes - o.start.nodes, total_.bytes - o.start.bytes};
    }

    const YamlLimits& limits_;
    Size total_;
    std::size_t last_event_ = 0;
    std::vector<Open> stack_;
    std::unordered_map<YAML::anchor_t, Size> sizes_;
};

// Why yaml-cpp had to be stopped at `cut`, scanning on from `from` without
// delivering an event: brackets opened without end, or one long flow
// collection. Only the message depends on this guess; the refusal does not.
Diagnostic lookahead_refusal(const std::string& file,
                             std::string_view text,
                             std::size_t from,
                             std::size_t cut,
                             const YamlLimits& limits) {
    int depth = 0;
    std::optional<std::size_t> first_open;
    for (std::size_t i = from; i < cut && i < text.size(); ++i) {
        const char c = text[i];
        if (c == '[' || c == '{') {
            if (!first_open) first_open = i;
            if (++depth > limits.max_depth)
                return {location_at(file, text, i), Severity::error,
                        "nesting deeper than " + std::to_string(limits.max_depth) +
                            " levels (depth cap)"};
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return {location_at(file, text, first_open.value_or(from)), Severity::error,
            "more than " + std::to_string(limits.max_lookahead_tokens) +
                " YAML tokens before this node can be read (lookahead cap): a flow "
                "collection ('[...]', '{...}') that could be a mapping key is read whole "
                "first; write a long list one '- item' per line"};
}

Location at(const std::string& file, const YAML::Mark& mark) {
    if (mark.is_null()) return {file, 1, 1};
    return {file, mark.line + 1, mark.column + 1};
}

}  // namespace

TextBuf::TextBuf(std::string_view text) {
    char* base = const_cast<char*>(text.data());  // NOLINT: read only; no putback writes
    setg(base, base, base + text.size());
}

Location location_at(const std::string& file, std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    const std::string_view before = text.substr(0, offset);
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const std::size_t nl = before.rfind('\n');
    const std::size_t col = nl == std::string_view::npos ? offset + 1 : offset - nl;
    return {file, static_cast<int>(line), static_cast<int>(col)};
}

bool check_utf8_text(std::string_view text, const std::string& file, Diagnostics& diags) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_length(text, i);
        if (n == 0) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(text[i]));
            diags.error(location_at(file, text, i),
                        std::string("text is not UTF-8 (byte ") + hex +
                            "); save the file as UTF-8 (ISO-8859-1 and Windows-1252 are not "
                            "accepted)");
            return false;
        }
        i += n;
    }
    return true;
}

bool check_yaml_events(std::string_view text,
                       const std::string& file,
                       const YamlLimits& limits,
                       Diagnostics& diags) {
    const TokenIndex index(text);
    BoundingHandler bounds(limits);
    GuardedBuf buf(text, index, limits.max_lookahead_tokens, bounds.last_event());
    std::istream in(&buf);
    std::optional<Diagnostic> refusal;
    try {
        YAML::Parser parser(in);
        int documents = 0;
        while (parser.HandleNextDocument(bounds)) {
            if (++documents > 1) {
                refusal = Diagnostic{{file, 1, 1},
                                     Severity::error,
                                     "holds more than one YAML document ('---'); one is expected"};
                break;
            }
        }
    } catch (const CapExceeded& e) {
        refusal = Diagnostic{at(file, e.mark), Severity::error, e.message};
    } catch (const YAML::Exception& e) {
        // e.msg is yaml-cpp's message without its own "yaml-cpp: error at line" prefix.
        refusal = Diagnostic{at(file, e.mark), Severity::error, "YAML syntax: " + e.msg};
    }
    // Cut short, yaml-cpp saw a truncated file: whatever it said is moot.
    if (const auto cut = buf.cut_at())
        refusal = lookahead_refusal(file, text, buf.last_event_at_cut(), *cut, limits);
    if (!refusal) return true;
    diags.error(refusal->where, refusal->message);
    return false;
}

}  // namespace lrsched
