// One text field of a RunScript transcript as the JSON reader decodes it,
// byte by byte: normalised (NUL removed, CRLF as LF), hashed, previewed and,
// for script_output, with the PowerShell transcript header and footer set
// apart. Internal to transcript.cpp (and its tests).
//
// The header is recognised at the start only, the footer at the end only,
// with a bounded look-ahead and hold-back of a few short lines, so memory
// stays O(1) however long the text: a line longer than kFrameLineCap cannot
// belong to either and streams straight through.
#pragma once

#include "common/sha256.hpp"
#include "evidence/transcript.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::evidence::detail {

inline constexpr std::size_t kFrameLineCap = 1024;  // a header or footer line is shorter
inline constexpr std::size_t kFrameCap = std::size_t{8} * 1024;  // header or footer as a whole
inline constexpr std::size_t kBannerLines = 40;  // lines of the banner block, at most

// The normalised text's hash, size and preview.
class TextBuilder {
  public:
    explicit TextBuilder(std::size_t preview_cap);
    void append(std::string_view s);
    TextPart finish();
    std::size_t held() const noexcept { return part_.preview.capacity() + batch_.capacity(); }

  private:
    std::size_t cap_;
    TextPart part_;
    Sha256 sha_;
    std::string batch_;  // hashed 64 KiB at a time: one EVP call per byte would be slow
};

class TextField {
  public:
    // `frame`: recognise the transcript header and footer (script_output).
    TextField(std::size_t preview_cap, bool frame);

    void put(char c);                // one decoded byte of the JSON string
    void write(std::string_view s);  // decoded bytes, a run at a time
    void finish();                   // the string ended

    TextPart part;       // valid after finish()
    std::string header;  // valid after finish()
    std::string footer;  // valid after finish()
    std::size_t held() const noexcept;

  private:
    enum class Phase { header, body };
    enum class Banner { start, title, body };

    void line_byte(char c);
    void plain_run(std::string_view run);
    void complete_line();
    void header_line(const std::string& line);
    void commit(const std::string& line);
    void fail(const std::string& line);
    void body_line(const std::string& line);
    void go_long();
    void out(std::string_view s) { text_.append(s); }

    TextBuilder text_;
    bool frame_;
    bool pending_cr_ = false;
    bool long_line_ = false;  // inside a line past kFrameLineCap: streams through
    std::string cur_;         // the line being read (frame only)
    Phase phase_ = Phase::header;
    Banner banner_ = Banner::start;
    bool banner_seen_ = false;
    bool started_seen_ = false;
    std::size_t banner_lines_ = 0;
    std::string held_;               // header lines not yet known to be the header
    std::vector<std::string> tail_;  // trailing lines that may be the footer
};

// Whether `lines` (each with its '\n', if any) is the start of a footer, or
// with `complete`, a whole footer.
bool footer_matches(const std::vector<std::string>& lines, std::size_t from, bool complete);

}  // namespace lrsched::evidence::detail
