// The reader of a RunScript result: the API's JSON transcript
// {"script_name":..,"exit_code":..,"script_output":..,"script_errors":..}
// (docs mde-api.md §3). `results`, `diff` and `stack` compare and show the
// script's output, not the packaging: the PowerShell transcript header and
// footer (action id, start and end times) are set apart, so two runs of the
// same script with the same output hash the same.
//
// Expected load: one file per RunScript result, each up to 100 MB or more,
// and possibly hostile (anyone who can write the run folder). So the file is
// read streaming, 64 KiB at a time, through a small JSON tokenizer for one
// top-level object of scalars; memory stays O(1) in the file's size: the
// preview, the header and footer and a few held-back lines, each capped.
//
// Folder evidence/: run folders, artifacts, the manifest, recovery, and the
// readers of results; includes common/ only here.
#pragma once

#include "common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lrsched::evidence {

// One text field of the transcript, normalised: NUL bytes removed (real
// transcripts carry them, raw or as \u0000, from UTF-16 output), CRLF as LF.
struct TextPart {
    std::string
        preview;  // the normalised text, at most preview_cap bytes (cut at a UTF-8 boundary)
    bool truncated = false;   // preview shorter than the text
    std::uint64_t bytes = 0;  // the normalised text's size
    std::string sha256;       // of the whole normalised text (hex)
};

struct Transcript {
    std::string script_name;  // capped at 1 KiB
    std::optional<std::int64_t> exit_code;
    std::string header;  // the recognised transcript header lines (capped 8 KiB), "" if none
    std::string footer;  // the recognised footer lines (capped 8 KiB), "" if none
    TextPart output;     // script_output without header and footer
    TextPart errors;     // script_errors
    // The most bytes the reader held at once (read buffer, held lines,
    // previews, header, footer): the proof that memory does not grow with
    // the file.
    std::size_t peak_held = 0;
};

inline constexpr std::size_t kTranscriptPreviewCap = std::size_t{64} * 1024;

// Errors: "transcript: offset N: ..." (invalid_input: not a JSON object,
// truncated, no script_output; limit_exceeded: a key past 1 KiB, nesting past
// the cap), or the file refused by RegularFile::open (a FIFO, a link, a
// device). Callers fall back to hashing the file's bytes.
Result<Transcript> read_transcript(const std::string& path,
                                   std::size_t preview_cap = kTranscriptPreviewCap);
// The same on bytes in memory (tests, fuzzing).
Result<Transcript> read_transcript_bytes(std::string_view bytes,
                                         std::size_t preview_cap = kTranscriptPreviewCap);

}  // namespace lrsched::evidence
