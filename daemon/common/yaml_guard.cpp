#include "common/yaml_guard.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstring>
#include <istream>
#include <optional>
#include <unordered_map>

namespace lrsched {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// An upper bound on the tokens yaml-cpp can make of a stretch of text. A
// token begins at an indicator character, at the first non-blank of a line,
// or right after an indicator or a property (`[a`, `: a`, `&x a`): at most
// one per indicator, since words in a row make one scalar. yaml-cpp adds at
// most a few of its own (a potential key, a block start) per token. Counted
// per 64-byte block so that a bound costs two lookups.
class TokenIndex {
  public:
    explicit TokenIndex(std::string_view text) {
        prefix_.reserve(text.size() / kBlock + 2);
        std::uint64_t n = 0;
        bool line_start = true;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (i % kBlock == 0) prefix_.push_back(n);
            const char c = text[i];
            if (c == '\n') {
                line_start = true;
            } else if (!is_blank(c)) {
                if (line_start || std::strchr("[]{},:?-&*!|>'\"%#@`", c) != nullptr) ++n;
                line_start = false;
            }
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

// Thrown from inside yaml-cpp's parse to stop it at the first refusal.
struct Refused {
    std::size_t offset;  // into the text
    std::string message;
};

// Where the quoted scalar of a node starting at `pos` opens, past its
// properties (yaml-cpp marks a node at its anchor or tag); nullopt when the
// node is not a quoted scalar.
std::optional<std::size_t> opening_quote(std::string_view text, std::size_t pos) {
    std::size_t i = pos;
    while (i < text.size()) {
        const char c = text[i];
        if (is_blank(c)) {
            ++i;
        } else if (c == '#') {
            while (i < text.size() && text[i] != '\n')
                ++i;
        } else if (c == '&' || c == '!') {
            while (i < text.size() && !is_blank(text[i]))
                ++i;
        } else {
            break;
        }
    }
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) return i;
    return std::nullopt;
}

// The offset of the quote that closes the quoted scalar opening at `open`;
// nullopt when the file ends first (yaml-cpp takes the end of the file for
// a closing quote when a line break precedes it).
std::optional<std::size_t> closing_quote(std::string_view text, std::size_t open) {
    const char q = text[open];
    for (std::size_t i = open + 1; i < text.size(); ++i) {
        if (q == '"' && text[i] == '\\') {
            ++i;  // an escape; `\"` does not close
        } else if (text[i] == q) {
            if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' is a quote inside single quotes
                continue;
            }
            return i;
        }
    }
    return std::nullopt;
}

// Counts nodes and scalar bytes as they would be after alias expansion,
// tracks depth, notes how far into the text events have come, and refuses
// what yaml-cpp accepts but is not YAML (or not for lrsched): a quote never
// closed, a block mapping key without ':', an empty flow entry, a tag.
class GuardHandler final : public YAML::EventHandler {
  public:
    GuardHandler(std::string_view text, const YamlLimits& limits) : text_(text), limits_(limits) {}

    const std::size_t& last_event() const noexcept { return last_event_; }
    // Spans [open, close] of the quoted scalars seen, in text order.
    const std::vector<std::pair<std::size_t, std::size_t>>& quoted() const noexcept {
        return quoted_;
    }

    void OnDocumentStart(const YAML::Mark& mark) override {
        seen(mark);
        if (++documents_ > 1)
            throw Refused{offset(mark),
                          "a second YAML document starts here ('---', or text after the end of "
                          "the first); a file holds one"};
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        node(mark, "", true);
        leaf(mark, anchor, 0);
    }
    void OnScalar(const YAML::Mark& mark,
                  const std::string& tag,
                  YAML::anchor_t anchor,
                  const std::string& value) override {
        node(mark, tag, false);
        if (tag == "!") check_quote(offset(mark));
        leaf(mark, anchor, value.size());
        if (!stack_.empty() && stack_.back().key_slot_value_next())
            stack_.back().key = value.substr(0, 100);  // for a message
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        node(mark, "", false);
        const auto it = sizes_.find(anchor);
        if (it == sizes_.end())
            throw Refused{offset(mark), "alias refers to an anchor that encloses it"};
        add(mark, it->second);
    }
    void OnSequenceStart(const YAML::Mark& mark,
                         const std::string& tag,
                         YAML::anchor_t anchor,
                         YAML::EmitterStyle::value style) override {
        node(mark, tag, false);
        open(mark, anchor, false, style == YAML::EmitterStyle::Flow);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark,
                    const std::string& tag,
                    YAML::anchor_t anchor,
                    YAML::EmitterStyle::value style) override {
        node(mark, tag, false);
        open(mark, anchor, true, style == YAML::EmitterStyle::Flow);
    }
    void OnMapEnd() override { close(); }

  private:
    struct Size {
        std::uint64_t nodes = 0, bytes = 0;
    };
    struct Open {
        YAML::anchor_t anchor;
        Size start;
        bool map, flow;
        std::size_t children = 0;
        std::size_t key_at = 0;  // of the last key, in a mapping
        std::string key;         // its text, when a scalar
        // True right after a key was counted: the next node is its value.
        bool key_slot_value_next() const { return map && children % 2 == 1; }
    };

    static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
    }
    std::size_t offset(const YAML::Mark& mark) const {
        return mark.is_null() ? 0 : static_cast<std::size_t>(mark.pos);
    }
    void seen(const YAML::Mark& mark) { last_event_ = std::max(last_event_, offset(mark)); }

    // Every node event: where it sits in its parent decides what is legal.
    void node(const YAML::Mark& mark, const std::string& tag, bool null) {
        seen(mark);
        const std::size_t at = offset(mark);
        if (!tag.empty() && tag != "?" && tag != "!")
            throw Refused{at, "tags such as " + quote_value(tag, 40) +
                                  " are not supported: lrsched reads each value by its key "
                                  "(quote a value to make it text)"};
        if (stack_.empty()) return;
        Open& parent = stack_.back();
        const bool key = parent.map && parent.children % 2 == 0;
        const char here = at < text_.size() ? text_[at] : '\0';
        if (null && parent.flow && (key || !parent.map) &&
            (here == ',' || here == ']' || here == '}'))
            throw Refused{at,
                          "empty entry in a flow collection (two commas, or a comma right after "
                          "'[' or '{')"};
        // yaml-cpp reads a plain line without ':' at the end of a block
        // mapping as a key with no value, marked where the key is.
        if (null && parent.map && !parent.flow && !key && at == parent.key_at)
            throw Refused{at, "key " + quote_value(parent.key) +
                                  " without ':' (a mapping entry is 'key: value')"};
        if (key) {
            parent.key_at = at;
            parent.key.clear();
        }
        ++parent.children;
    }
    void check_quote(std::size_t at) {
        const auto open = opening_quote(text_, at);
        if (!open) return;  // a block scalar, or `! text`
        const auto close = closing_quote(text_, *open);
        if (!close)
            throw Refused{*open, std::string("quoted text never closed: no closing ") +
                                     (text_[*open] == '"' ? "'\"'" : "\"'\"") +
                                     " before the end of the file"};
        quoted_.emplace_back(*open, *close);
    }
    void add(const YAML::Mark& mark, Size n) {
        // Saturating: a doubling chain of aliases overflows 64 bits quickly.
        total_.nodes = saturating_add(total_.nodes, n.nodes);
        total_.bytes = saturating_add(total_.bytes, n.bytes);
        if (total_.nodes > limits_.max_nodes)
            throw Refused{offset(mark), "document expands to more than " +
                                            std::to_string(limits_.max_nodes) +
                                            " nodes (node cap; aliases count once per use)"};
        if (total_.bytes > limits_.max_expanded_bytes)
            throw Refused{offset(mark), "document expands to more than " +
                                            std::to_string(limits_.max_expanded_bytes) +
                                            " bytes of text (expansion cap; an alias counts the "
                                            "text of its anchor once per use)"};
    }
    void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t bytes) {
        add(mark, {1, bytes});
        if (anchor != 0) sizes_[anchor] = {1, bytes};
    }
    void open(const YAML::Mark& mark, YAML::anchor_t anchor, bool map, bool flow) {
        if (static_cast<int>(stack_.size()) >= limits_.max_depth)
            throw Refused{offset(mark), "nesting deeper than " + std::to_string(limits_.max_depth) +
                                            " levels (depth cap)"};
        const Size before = total_;
        add(mark, {1, 0});
        stack_.push_back({anchor, before, map, flow, 0, 0, {}});
    }
    void close() {
        const Open& o = stack_.back();
        if (o.anchor != 0)
            sizes_[o.anchor] = {total_.nodes - o.start.nodes, total_.bytes - o.start.bytes};
        stack_.pop_back();
    }

    std::string_view text_;
    const YamlLimits& limits_;
    Size total_;
    int documents_ = 0;
    std::size_t last_event_ = 0;
    std::vector<Open> stack_;
    std::unordered_map<YAML::anchor_t, Size> sizes_;
    std::vector<std::pair<std::size_t, std::size_t>> quoted_;
};

// A line starting with '%' outside quoted text is a directive to yaml-cpp,
// which takes one without the '---' YAML requires after it and drops one
// after the content: lrsched files take none.
std::optional<std::size_t> find_directive(
    std::string_view text, const std::vector<std::pair<std::size_t, std::size_t>>& quoted) {
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] == '%') {
            const auto after =
                std::upper_bound(quoted.begin(), quoted.end(), std::make_pair(i, std::size_t{0}));
            if (after == quoted.begin() || std::prev(after)->second < i) return i;
        }
        const std::size_t nl = text.find('\n', i);
        if (nl == std::string_view::npos) break;
        i = nl + 1;
    }
    return std::nullopt;
}

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
                " YAML tokens or lines before this node can be read (lookahead cap): a flow "
                "collection ('[...]', '{...}') that could be a mapping key is read whole first; "
                "write a long list one '- item' per line"};
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

bool check_yaml_events(std::string_view text,
                       const std::string& file,
                       const YamlLimits& limits,
                       Diagnostics& diags) {
    const TokenIndex index(text);
    GuardHandler guard(text, limits);
    GuardedBuf buf(text, index, limits.max_lookahead_tokens, guard.last_event());
    std::istream in(&buf);
    std::optional<Diagnostic> refusal;
    try {
        YAML::Parser parser(in);
        while (parser.HandleNextDocument(guard)) {
        }
        if (const auto d = find_directive(text, guard.quoted()))
            refusal = Diagnostic{location_at(file, text, *d), Severity::error,
                                 "directives (%YAML, %TAG) are not supported in lrsched files; "
                                 "remove the line"};
    } catch (const Refused& e) {
        refusal = Diagnostic{location_at(file, text, e.offset), Severity::error, e.message};
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
