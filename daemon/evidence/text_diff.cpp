// Myers' O(ND) diff over line ids (text_diff.hpp). Lines are interned to
// integers first so the search compares ints; the common prefix and suffix
// are stripped before it, so a long text with one change costs O(N). The
// search keeps one copy of its frontier per D for the backtrack, so D is
// capped (kMaxD, and a work budget over N+M): past it the differing middle
// is reported as deleted and inserted whole, still a correct diff.
#include "evidence/text_diff.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace lrsched::evidence {

namespace {

constexpr std::int64_t kMaxD = 2000;
constexpr std::int64_t kWork = 40'000'000;  // (N+M) * D, about a second unoptimised

enum class Kind : std::uint8_t { same, del, ins };
struct Op {
    Kind kind;
    std::size_t a;  // index in a (same, del) or a's position (ins)
    std::size_t b;  // index in b (same, ins) or b's position (del)
};

std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t at = 0;
    while (at < s.size()) {
        const std::size_t nl = s.find('\n', at);
        const std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
        out.push_back(s.substr(at, end - at));
        at = end;
    }
    return out;
}

void append_escaped(std::string& out, std::string_view s, bool escape_newline) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto hex = [&out](unsigned char c) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if ((c < 0x20 && c != '\t' && (c != '\n' || escape_newline)) || c == 0x7f) {
            hex(c);
        } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
            hex(c);  // a C1 control (CSI is U+009B) in UTF-8
            hex(static_cast<unsigned char>(s[++i]));
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
}

// Myers' greedy forward search on a[0..n) and b[0..m); appends the edit
// script, or returns false when D would pass max_d.
bool myers(const std::vector<int>& a,
           const std::vector<int>& b,
           std::int64_t max_d,
           std::size_t a0,
           std::size_t b0,
           std::vector<Op>& ops) {
    const auto n = static_cast<std::int64_t>(a.size());
    const auto m = static_cast<std::int64_t>(b.size());
    const std::int64_t off = max_d + 1;
    std::vector<std::int32_t> v(static_cast<std::size_t>(2 * off + 1), 0);
    // trace[d]: the frontier before round d, k in [-d, d] only (O(D^2) in all).
    std::vector<std::vector<std::int32_t>> trace;
    auto at = [&v, off](std::int64_t k) -> std::int32_t& {
        return v[static_cast<std::size_t>(k + off)];
    };
    for (std::int64_t d = 0; d <= max_d; ++d) {
        trace.emplace_back(v.begin() + (off - d), v.begin() + (off + d + 1));
        for (std::int64_t k = -d; k <= d; k += 2) {
            std::int64_t x =
                (k == -d || (k != d && at(k - 1) < at(k + 1))) ? at(k + 1) : at(k - 1) + 1;
            std::int64_t y = x - k;
            while (x < n && y < m &&
                   a[static_cast<std::size_t>(x)] == b[static_cast<std::size_t>(y)])
                ++x, ++y;
            at(k) = static_cast<std::int32_t>(x);
            if (x < n || y < m) continue;
            // Backtrack from (n, m) through the saved frontiers.
            std::vector<Op> rev;
            auto push = [&rev, a0, b0](Kind kind, std::int64_t px, std::int64_t py) {
                rev.push_back(
                    {kind, a0 + static_cast<std::size_t>(px), b0 + static_cast<std::size_t>(py)});
            };
            for (std::int64_t dd = d; dd > 0; --dd) {
                const auto& pv = trace[static_cast<std::size_t>(dd)];
                auto prev = [&pv, dd](std::int64_t kk) -> std::int64_t {
                    return pv[static_cast<std::size_t>(kk + dd)];
                };
                const std::int64_t kk = x - y;
                const bool down = kk == -dd || (kk != dd && prev(kk - 1) < prev(kk + 1));
                const std::int64_t pk = down ? kk + 1 : kk - 1;
                const std::int64_t px = prev(pk), py = px - pk;
                while (x > px + (down ? 0 : 1) && y > py + (down ? 1 : 0)) {
                    --x, --y;
                    push(Kind::same, x, y);
                }
                if (down) {
                    --y;
                    push(Kind::ins, x, y);
                } else {
                    --x;
                    push(Kind::del, x, y);
                }
            }
            while (x > 0 && y > 0) {
                --x, --y;
                push(Kind::same, x, y);
            }
            ops.insert(ops.end(), rev.rbegin(), rev.rend());
            return true;
        }
    }
    return false;
}

void write_side(std::string& out, char mark, std::string_view line) {
    out.push_back(mark);
    const bool newline = !line.empty() && line.back() == '\n';
    append_escaped(out, newline ? line.substr(0, line.size() - 1) : line, false);
    out += newline ? "\n" : "\n\\ No newline at end of file\n";
}

std::string range(std::size_t start, std::size_t count) {
    // diff(1): an empty range names the line before it; a count of 1 is left out.
    std::string s = std::to_string(count == 0 ? start : start + 1);
    if (count != 1) s += "," + std::to_string(count);
    return s;
}

}  // namespace

Result<std::string> unified_diff(std::string_view a,
                                 std::string_view b,
                                 std::string_view label_a,
                                 std::string_view label_b,
                                 std::size_t context,
                                 std::size_t max_lines) {
    if (a == b) return std::string();
    const auto la = split_lines(a), lb = split_lines(b);
    if (la.size() > max_lines || lb.size() > max_lines)
        return Error(Errc::limit_exceeded,
                     "diff: " + std::to_string(std::max(la.size(), lb.size())) +
                         " lines, over the cap of " + std::to_string(max_lines));
    std::unordered_map<std::string_view, int> ids;
    auto intern = [&ids](const std::vector<std::string_view>& lines) {
        std::vector<int> out;
        out.reserve(lines.size());
        for (const auto& l : lines)
            out.push_back(ids.emplace(l, static_cast<int>(ids.size())).first->second);
        return out;
    };
    const auto ia = intern(la), ib = intern(lb);
    std::size_t pre = 0;
    while (pre < ia.size() && pre < ib.size() && ia[pre] == ib[pre])
        ++pre;
    std::size_t suf = 0;
    while (suf < ia.size() - pre && suf < ib.size() - pre &&
           ia[ia.size() - 1 - suf] == ib[ib.size() - 1 - suf])
        ++suf;

    std::vector<Op> ops;
    ops.reserve(std::max(ia.size(), ib.size()) + 16);
    for (std::size_t i = 0; i < pre; ++i)
        ops.push_back({Kind::same, i, i});
    const std::vector<int> ma(ia.begin() + static_cast<std::ptrdiff_t>(pre),
                              ia.end() - static_cast<std::ptrdiff_t>(suf));
    const std::vector<int> mb(ib.begin() + static_cast<std::ptrdiff_t>(pre),
                              ib.end() - static_cast<std::ptrdiff_t>(suf));
    const auto size = static_cast<std::int64_t>(ma.size() + mb.size());
    const std::int64_t max_d = std::min(
        {kMaxD, size, std::max<std::int64_t>(64, kWork / std::max<std::int64_t>(size, 1))});
    if (!myers(ma, mb, max_d, pre, pre, ops)) {
        for (std::size_t i = 0; i < ma.size(); ++i)
            ops.push_back({Kind::del, pre + i, pre});
        for (std::size_t j = 0; j < mb.size(); ++j)
            ops.push_back({Kind::ins, pre + ma.size(), pre + j});
    }
    for (std::size_t i = 0; i < suf; ++i)
        ops.push_back({Kind::same, ia.size() - suf + i, ib.size() - suf + i});
    // Within a change, deletions first, as diff(1) prints them.
    for (std::size_t i = 0; i < ops.size();) {
        std::size_t j = i;
        while (j < ops.size() && ops[j].kind != Kind::same)
            ++j;
        std::stable_partition(ops.begin() + static_cast<std::ptrdiff_t>(i),
                              ops.begin() + static_cast<std::ptrdiff_t>(j),
                              [](const Op& o) { return o.kind == Kind::del; });
        i = j + 1;
    }

    std::string out = "--- ";
    append_escaped(out, label_a, true);
    out += "\n+++ ";
    append_escaped(out, label_b, true);
    out += "\n";
    std::size_t i = 0;
    while (i < ops.size()) {
        while (i < ops.size() && ops[i].kind == Kind::same)
            ++i;
        if (i == ops.size()) break;
        const std::size_t lo = i > context ? i - context : 0;
        // Extend while the next change is within 2*context equal lines.
        std::size_t hi = i;
        for (;;) {
            while (hi < ops.size() && ops[hi].kind != Kind::same)
                ++hi;
            std::size_t next = hi;
            while (next < ops.size() && ops[next].kind == Kind::same)
                ++next;
            if (next < ops.size() && next - hi <= 2 * context) {
                hi = next;
                continue;
            }
            hi = std::min(ops.size(), hi + context);
            break;
        }
        std::size_t na = 0, nb = 0;
        for (std::size_t k = lo; k < hi; ++k) {
            if (ops[k].kind != Kind::ins) ++na;
            if (ops[k].kind != Kind::del) ++nb;
        }
        out += "@@ -" + range(ops[lo].a, na) + " +" + range(ops[lo].b, nb) + " @@\n";
        for (std::size_t k = lo; k < hi; ++k) {
            const Op& o = ops[k];
            if (o.kind == Kind::same)
                write_side(out, ' ', la[o.a]);
            else if (o.kind == Kind::del)
                write_side(out, '-', la[o.a]);
            else
                write_side(out, '+', lb[o.b]);
        }
        i = hi;
    }
    return out;
}

}  // namespace lrsched::evidence
