// The RunScript transcript reader (evidence/transcript.hpp) on hostile
// bytes: no crash, bounded preview, and an accepted transcript's texts are
// normalised (no NUL, no CRLF) and hashed.
#include "evidence/transcript.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lrsched::evidence;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    constexpr std::size_t kCap = 256;
    const auto t = read_transcript_bytes(bytes, kCap);
    if (!t) {
        FUZZ_CHECK(t.error().message.rfind("transcript: offset ", 0) == 0);
        return 0;
    }
    for (const TextPart* p : {&t->output, &t->errors}) {
        FUZZ_CHECK(p->preview.size() <= kCap);
        FUZZ_CHECK(p->preview.size() <= p->bytes);
        FUZZ_CHECK(p->truncated == (p->preview.size() < p->bytes));
        FUZZ_CHECK(p->sha256.size() == 64);
        FUZZ_CHECK(p->preview.find('\0') == std::string::npos);
    }
    FUZZ_CHECK(t->header.size() <= 8 * 1024 && t->footer.size() <= 8 * 1024);
    FUZZ_CHECK(t->script_name.size() <= 1024);
    // The same bytes give the same answer (no state kept between calls).
    const auto again = read_transcript_bytes(bytes, kCap);
    FUZZ_CHECK(again.ok() && again->output.sha256 == t->output.sha256 &&
               again->header == t->header);
    return 0;
}
