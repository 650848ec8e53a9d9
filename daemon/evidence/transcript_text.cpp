// Normalising, hashing and framing one transcript text field (see
// transcript_text.hpp). Called once per decoded byte of a file that may be
// 100 MB: no allocation per byte beyond the capped line buffers.
#include "evidence/transcript_text.hpp"

#include <algorithm>

namespace lrsched::evidence::detail {

namespace {

constexpr std::size_t kHashBatch = std::size_t{64} * 1024;

std::string_view trimmed(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
    return line;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// PowerShell writes 22 asterisks; any line of 10 or more is taken.
bool is_stars(std::string_view t) {
    return t.size() >= 10 && std::all_of(t.begin(), t.end(), [](char c) { return c == '*'; });
}

// Drops an incomplete UTF-8 sequence at the end of a cut preview.
void cut_at_utf8_boundary(std::string& s) {
    std::size_t i = s.size();
    std::size_t back = 0;
    while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
        --i;
        ++back;
    }
    if (i == 0) return;
    const auto lead = static_cast<unsigned char>(s[i - 1]);
    std::size_t need = 1;
    if ((lead & 0xE0) == 0xC0)
        need = 2;
    else if ((lead & 0xF0) == 0xE0)
        need = 3;
    else if ((lead & 0xF8) == 0xF0)
        need = 4;
    if (lead >= 0xC0 && back + 1 < need) s.resize(i - 1);
}

}  // namespace

TextBuilder::TextBuilder(std::size_t preview_cap) : cap_(preview_cap) {}

void TextBuilder::append(std::string_view s) {
    part_.bytes += s.size();
    if (part_.preview.size() < cap_) {
        const std::size_t room = cap_ - part_.preview.size();
        part_.preview.append(s.substr(0, room));
        if (s.size() > room) part_.truncated = true;
    } else if (!s.empty()) {
        part_.truncated = true;
    }
    batch_.append(s);
    if (batch_.size() >= kHashBatch) {
        sha_.update(batch_);
        batch_.clear();
    }
}

TextPart TextBuilder::finish() {
    sha_.update(batch_);
    batch_.clear();
    part_.sha256 = sha_.hex_digest();
    if (part_.truncated) cut_at_utf8_boundary(part_.preview);
    return std::move(part_);
}

bool footer_matches(const std::vector<std::string>& lines, std::size_t from, bool complete) {
    bool stopped = false, block = false;
    std::size_t i = from;
    const std::size_t n = lines.size();
    while (i < n) {
        const std::string_view t = trimmed(lines[i]);
        if (!stopped && starts_with(t, "Transcript stopped, output file is ")) {
            stopped = true;
            ++i;
            continue;
        }
        if (!block && is_stars(t)) {
            // stars / "Windows PowerShell transcript end" / "End time: ..." / stars
            for (std::size_t k = 1; k < 4; ++k) {
                if (i + k >= n) return !complete;
                const std::string_view u = trimmed(lines[i + k]);
                const bool fits = k == 1   ? u == "Windows PowerShell transcript end"
                                  : k == 2 ? starts_with(u, "End time:")
                                           : is_stars(u);
                if (!fits) return false;
            }
            block = true;
            i += 4;
            continue;
        }
        return false;
    }
    return !complete || i > from;
}

TextField::TextField(std::size_t preview_cap, bool frame) : text_(preview_cap), frame_(frame) {
    if (!frame_) phase_ = Phase::body;
}

std::size_t TextField::held() const noexcept {
    std::size_t n =
        text_.held() + cur_.capacity() + held_.capacity() + header.capacity() + footer.capacity();
    for (const auto& l : tail_)
        n += l.capacity();
    return n;
}

void TextField::put(char c) {
    if (c == '\0') return;
    if (pending_cr_) {
        pending_cr_ = false;
        if (c == '\n') {
            line_byte('\n');
            return;
        }
        line_byte('\r');
    }
    if (c == '\r') {
        pending_cr_ = true;
        return;
    }
    line_byte(c);
}

void TextField::write(std::string_view s) {
    while (!s.empty()) {
        const char c = s[0];
        if (pending_cr_ || c == '\0' || c == '\r' || c == '\n') {
            put(c);
            s.remove_prefix(1);
            continue;
        }
        std::size_t k = 1;
        while (k < s.size() && s[k] != '\0' && s[k] != '\r' && s[k] != '\n')
            ++k;
        plain_run(s.substr(0, k));
        s.remove_prefix(k);
    }
}

// Bytes with no NUL, CR or LF: part of the current line.
void TextField::plain_run(std::string_view run) {
    if (!frame_ || long_line_) {
        out(run);
        return;
    }
    cur_.append(run);
    if (cur_.size() > kFrameLineCap) go_long();
}

void TextField::line_byte(char c) {
    if (!frame_ || long_line_) {
        out(std::string_view(&c, 1));
        if (c == '\n') long_line_ = false;
        return;
    }
    cur_.push_back(c);
    if (c == '\n')
        complete_line();
    else if (cur_.size() > kFrameLineCap)
        go_long();
}

// cur_ keeps its buffer from line to line: no allocation per line of output.
void TextField::complete_line() {
    if (phase_ == Phase::header)
        header_line(cur_);
    else
        body_line(cur_);
    cur_.clear();
}

void TextField::header_line(const std::string& line) {
    const std::string_view t = trimmed(line);
    switch (banner_) {
        case Banner::start:
            if (!banner_seen_ && is_stars(t)) {
                held_ = line;
                banner_ = Banner::title;
                banner_lines_ = 1;
            } else if (!started_seen_ && starts_with(t, "Transcript started, output file is ")) {
                started_seen_ = true;
                commit(line);
            } else {
                fail(line);
            }
            return;
        case Banner::title:
            if (t == "Windows PowerShell transcript start") {
                held_ += line;
                banner_ = Banner::body;
                ++banner_lines_;
            } else {
                fail(line);
            }
            return;
        case Banner::body:
            if (is_stars(t)) {
                banner_seen_ = true;
                banner_ = Banner::start;
                commit(line);
            } else if (++banner_lines_ > kBannerLines || held_.size() + line.size() > kFrameCap) {
                fail(line);
            } else {
                held_ += line;
            }
            return;
    }
}

void TextField::commit(const std::string& line) {
    if (header.size() + held_.size() + line.size() > kFrameCap) {
        fail(line);
        return;
    }
    header += held_;
    header += line;
    held_.clear();
    if (banner_seen_ && started_seen_) phase_ = Phase::body;
}

// What looked like a header is not: the held lines and this one are output.
void TextField::fail(const std::string& line) {
    phase_ = Phase::body;
    banner_ = Banner::start;
    std::string held = std::move(held_) + line;
    held_.clear();
    std::size_t at = 0;
    while (at < held.size()) {
        const std::size_t nl = held.find('\n', at);
        const std::size_t end = nl == std::string::npos ? held.size() : nl + 1;
        body_line(held.substr(at, end - at));
        at = end;
    }
}

// Holds the trailing lines that may yet be the footer; the rest is output.
void TextField::body_line(const std::string& line) {
    // The common case, one compare: a line that cannot start a footer.
    if (tail_.empty() && (line.empty() || (line[0] != '*' && line[0] != 'T'))) {
        out(line);
        return;
    }
    tail_.push_back(line);
    std::size_t drop = 0;
    while (drop < tail_.size() && !footer_matches(tail_, drop, false))
        ++drop;
    for (std::size_t i = 0; i < drop; ++i)
        out(tail_[i]);
    tail_.erase(tail_.begin(), tail_.begin() + static_cast<std::ptrdiff_t>(drop));
}

// A line too long for a header or footer: nothing before it is a footer.
void TextField::go_long() {
    if (phase_ == Phase::header) fail("");
    for (const auto& l : tail_)
        out(l);
    tail_.clear();
    out(cur_);
    cur_.clear();
    cur_.shrink_to_fit();
    long_line_ = true;
}

void TextField::finish() {
    if (pending_cr_) {
        pending_cr_ = false;
        line_byte('\r');
    }
    if (frame_) {
        if (!cur_.empty()) complete_line();  // a last line without '\n'
        if (phase_ == Phase::header) fail("");
        std::size_t from = 0;
        while (from < tail_.size() && !footer_matches(tail_, from, true))
            ++from;
        for (std::size_t i = 0; i < tail_.size(); ++i) {
            if (i < from)
                out(tail_[i]);
            else
                footer += tail_[i];
        }
        tail_.clear();
    }
    part = text_.finish();
}

}  // namespace lrsched::evidence::detail
