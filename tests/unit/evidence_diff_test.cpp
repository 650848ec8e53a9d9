// The unified diff of `diff --show` (evidence/text_diff.hpp): exact output
// for small cases, control bytes escaped, the line cap, a worst case that
// stays bounded, and random edits whose diff, applied, gives the new text.
#include "evidence/text_diff.hpp"

#include <doctest/doctest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

using lrsched::Errc;
using lrsched::evidence::unified_diff;

namespace {

std::string numbered(int from, int to) {
    std::string s;
    for (int i = from; i <= to; ++i)
        s += std::to_string(i) + "\n";
    return s;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l))
        out.push_back(l);
    return out;
}

// Applies a unified diff (as unified_diff writes it) to `a`.
std::string apply(const std::string& a, const std::string& diff) {
    const auto al = lines_of(a);
    const auto dl = lines_of(diff);
    std::string out;
    std::size_t ai = 0;
    for (std::size_t i = 2; i < dl.size(); ++i) {
        const std::string& l = dl[i];
        if (l.rfind("@@ -", 0) == 0) {
            std::size_t start = std::stoul(l.substr(4));
            const std::size_t comma = l.find(',');
            const std::size_t space = l.find(' ', 4);
            const bool empty = comma < space && std::stoul(l.substr(comma + 1)) == 0;
            const std::size_t to = empty ? start : start - 1;
            while (ai < to)
                out += al[ai++] + "\n";
        } else if (l[0] == ' ' || l[0] == '-') {
            REQUIRE(al[ai] == l.substr(1));
            if (l[0] == ' ') out += al[ai] + "\n";
            ++ai;
        } else if (l[0] == '+') {
            out += l.substr(1) + "\n";
        }
    }
    while (ai < al.size())
        out += al[ai++] + "\n";
    return out;
}

}  // namespace

TEST_CASE("diff: equal texts give an empty diff") {
    auto d = unified_diff(numbered(1, 50), numbered(1, 50), "a", "b");
    REQUIRE(d.ok());
    CHECK(d->empty());
}

TEST_CASE("diff: one changed line gives one hunk with three lines of context") {
    std::string b = numbered(1, 20);
    b.replace(b.find("\n10\n") + 1, 2, "ten");
    auto d = unified_diff(numbered(1, 20), b, "run 1/WS-1", "run 2/WS-1");
    REQUIRE(d.ok());
    CHECK(
        *d ==
        "--- run 1/WS-1\n+++ run 2/WS-1\n@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+ten\n 11\n 12\n 13\n");
}

TEST_CASE("diff: insertions at both ends and a missing last newline") {
    auto d = unified_diff("b\nc\nd", "a\nb\nc\nd\ne\n", "old", "new", 0);
    REQUIRE(d.ok());
    CHECK(*d ==
          "--- old\n+++ new\n@@ -0,0 +1 @@\n+a\n@@ -3 +4,2 @@\n-d\n\\ No newline at end of "
          "file\n+d\n+e\n");
    auto e = unified_diff("", "x\n", "old", "new");
    REQUIRE(e.ok());
    CHECK(*e == "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n");
}

TEST_CASE("diff: control bytes in lines and labels are shown escaped, tabs kept") {
    auto d = unified_diff("ok\n",
                          "\x1b[2J\x1b]0;pwned\x07\tcol\r\n\xC2\x9B"
                          "31m\n",
                          "a\nb", "b\x1b");
    REQUIRE(d.ok());
    CHECK(*d ==
          "--- a\\x0ab\n+++ b\\x1b\n@@ -1 +1,2 "
          "@@\n-ok\n+\\x1b[2J\\x1b]0;pwned\\x07\tcol\\x0d\n+\\xc2\\x9b31m\n");
    CHECK(d->find('\x1b') == std::string::npos);
}

TEST_CASE("diff: past max_lines on either side it is refused") {
    auto d = unified_diff(numbered(1, 11), numbered(1, 5), "a", "b", 3, 10);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == make_error_code(Errc::limit_exceeded));
    CHECK(d.error().message == "diff: 11 lines, over the cap of 10");
    CHECK(unified_diff(numbered(1, 10), numbered(1, 5), "a", "b", 3, 10).ok());
}

TEST_CASE("diff: 100k lines with all lines different stays bounded and correct") {
    std::string a, b;
    for (int i = 0; i < 50'000; ++i) {
        a += "a" + std::to_string(i) + "\n";
        b += "b" + std::to_string(i) + "\n";
    }
    auto d = unified_diff(a, b, "a", "b");
    REQUIRE(d.ok());
    CHECK(apply(a, *d) == b);
    auto one = unified_diff(numbered(1, 99'999), numbered(1, 99'999) + "tail\n", "a", "b");
    REQUIRE(one.ok());
    CHECK(one->size() < 200);
}

TEST_CASE("diff: random edits, applied, give the new text") {
    std::mt19937 rng(15);
    for (int round = 0; round < 200; ++round) {
        std::vector<std::string> a;
        const int n = static_cast<int>(rng() % 40);
        for (int i = 0; i < n; ++i)
            a.push_back(std::string(1, static_cast<char>('a' + rng() % 4)));
        std::vector<std::string> b = a;
        const int edits = static_cast<int>(rng() % 6);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = b.empty() ? 0 : rng() % (b.size() + 1);
            if (rng() % 2 == 0 || b.empty() || at == b.size())
                b.insert(b.begin() + static_cast<long>(at), "new");
            else
                b.erase(b.begin() + static_cast<long>(at));
        }
        std::string ta, tb;
        for (const auto& l : a)
            ta += l + "\n";
        for (const auto& l : b)
            tb += l + "\n";
        for (std::size_t context : {0u, 1u, 3u}) {
            auto d = unified_diff(ta, tb, "a", "b", context);
            REQUIRE(d.ok());
            CHECK_MESSAGE(apply(ta, *d) == tb, *d);
            CHECK(d->empty() == (ta == tb));
        }
    }
}
