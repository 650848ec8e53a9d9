// The RunScript transcript reader (evidence/transcript.hpp): the documented
// example, header and footer set apart so two runs hash alike, NULs and
// escapes, a 100 MB file in bounded memory, and hostile files refused with
// the byte offset, or (FIFO, link) without being opened for reading.
#include "common/sha256.hpp"
#include "evidence/transcript.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using lrsched::Errc;
using lrsched::sha256_hex;
using lrsched::evidence::read_transcript;
using lrsched::evidence::read_transcript_bytes;
using lrsched::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kPath =
    "C:\\\\ProgramData\\\\Microsoft\\\\Windows Defender Advanced Threat "
    "Protection\\\\Temp\\\\PSScriptOutputs\\\\PSScript_Transcript_";

std::string banner(const std::string& word, const std::string& time) {
    return "**********************\\r\\nWindows PowerShell transcript " + word + "\\r\\n" +
           (word == "start" ? "Start time: " : "End time: ") + time + "\\r\\n" +
           (word == "start"
                ? "Username: CONTOSO\\\\SYSTEM\\r\\nMachine: WS-1 (Microsoft Windows NT 10.0)\\r\\n"
                : "") +
           "**********************\\r\\n";
}

// A transcript as the API writes it (JSON-escaped), around `body`.
std::string transcript(const std::string& id,
                       const std::string& start,
                       const std::string& end,
                       const std::string& body) {
    const std::string file = kPath + id + ".txt";
    return "{\"script_name\":\"triage.ps1\",\"exit_code\":0,\"script_output\":\"" +
           banner("start", start) + "Transcript started, output file is " + file + "\\r\\n" + body +
           "Transcript stopped, output file is " + file + "\\r\\n" + banner("end", end) +
           "\",\"script_errors\":\"\"}";
}

std::uint64_t vm_hwm_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
}

}  // namespace

TEST_CASE("transcript: the documented example gives name, exit code, header and NUL-free output") {
    const std::string doc =
        "{\n  \"script_name\": \"minidump.ps1\",\n  \"exit_code\": 0,\n  \"script_output\": "
        "\"Transcript "
        "started, output file is " +
        kPath +
        "{TRANSCRIPT_ID}.txt\\r\\n\\u0000\\u0000Id  Name\\r\\n--  ----\\r\\n 4  "
        "lsass\\u0000\\r\\n\",\n"
        "  \"script_errors\": \"\"\n}\n";
    auto t = read_transcript_bytes(doc);
    REQUIRE_MESSAGE(t.ok(), t.error().message);
    CHECK(t->script_name == "minidump.ps1");
    CHECK(t->exit_code == 0);
    CHECK(t->header.rfind("Transcript started, output file is C:\\ProgramData\\", 0) == 0);
    CHECK(t->header.find("{TRANSCRIPT_ID}.txt\n") != std::string::npos);
    CHECK(t->footer.empty());
    CHECK(t->output.preview == "Id  Name\n--  ----\n 4  lsass\n");
    CHECK(t->output.bytes == t->output.preview.size());
    CHECK_FALSE(t->output.truncated);
    CHECK(t->output.sha256 == sha256_hex("Id  Name\n--  ----\n 4  lsass\n"));
    CHECK(t->errors.bytes == 0);
    CHECK(t->errors.sha256 == sha256_hex(""));
}

TEST_CASE(
    "transcript: headers and footers that differ only in ids and times hash the same output") {
    const std::string body = "lrsched ran triage.ps1\\r\\n\\u0000done\\r\\n";
    auto a =
        read_transcript_bytes(transcript("1111-aaaa", "20261207010000", "20261207010005", body));
    auto b =
        read_transcript_bytes(transcript("2222-bbbb", "20261208020000", "20261208020009", body));
    auto c = read_transcript_bytes(transcript("1111-aaaa", "20261207010000", "20261207010005",
                                              "lrsched ran triage.ps1\\r\\nchanged\\r\\n"));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(c.ok());
    CHECK(a->output.preview == "lrsched ran triage.ps1\ndone\n");
    CHECK(a->output.sha256 == b->output.sha256);
    CHECK(a->header != b->header);
    CHECK(a->footer != b->footer);
    CHECK(a->header.find("Windows PowerShell transcript start\n") != std::string::npos);
    CHECK(a->header.find("Transcript started, output file is ") != std::string::npos);
    CHECK(a->footer.rfind("Transcript stopped, output file is ", 0) == 0);
    CHECK(a->footer.find("End time: 20261207010005\n") != std::string::npos);
    CHECK(c->output.sha256 != a->output.sha256);
}

TEST_CASE("transcript: lines that only look like a header or footer stay in the output") {
    auto t = read_transcript_bytes(
        "{\"script_output\":\"**********************\\nnot a banner\\nTranscript stopped, output "
        "file is "
        "x\\nmore\\n**********************\\nWindows PowerShell transcript end\\n\"}");
    REQUIRE(t.ok());
    CHECK(t->header.empty());
    CHECK(t->footer.empty());
    CHECK(t->output.preview ==
          "**********************\nnot a banner\nTranscript stopped, output file is x\nmore\n"
          "**********************\nWindows PowerShell transcript end\n");
}

TEST_CASE("transcript: lines past 1 KiB stream through, header and footer around them are found") {
    const std::string long_line(3000, 'L');
    auto t = read_transcript_bytes(
        transcript("id-1", "1", "2", long_line + "\\r\\n" + long_line + "\\r\\n"));
    REQUIRE(t.ok());
    CHECK(t->header.find("Transcript started") != std::string::npos);
    CHECK(t->footer.find("End time: 2\n") != std::string::npos);
    CHECK(t->footer.find("Transcript stopped") != std::string::npos);
    CHECK(t->output.bytes == 2 * 3001);
    CHECK(t->output.sha256 == sha256_hex(long_line + "\n" + long_line + "\n"));
    // A long first line: no header, and it is output as it is.
    auto u = read_transcript_bytes("{\"script_output\":\"" + long_line +
                                   "\\nTranscript started, output file is x\"}");
    REQUIRE(u.ok());
    CHECK(u->header.empty());
    CHECK(u->output.bytes == 3000 + 1 + 36);
}

TEST_CASE("transcript: NULs raw and escaped, escapes, surrogate pairs and CRLF are normalised") {
    std::string doc = "{\"script_output\":\"a";
    doc += std::string("\0\0", 2);
    doc +=
        "b\\u0000c\\r\\nd\r\ne\\t\\\"\\\\\\/\\b\\f \\ud83d\\ude00 \\u00e9 \\ud800x \\udc00\x01\"";
    doc += ",\"script_errors\":\"err\\r\\n\",\"exit_code\":-3,\"other\":{\"x\":[1,{\"y\":\"}\"}]}}";
    auto t = read_transcript_bytes(doc);
    REQUIRE_MESSAGE(t.ok(), t.error().message);
    CHECK(t->output.preview ==
          "abc\nd\ne\t\"\\/\b\f \xF0\x9F\x98\x80 \xC3\xA9 \xEF\xBF\xBDx \xEF\xBF\xBD\x01");
    CHECK(t->errors.preview == "err\n");
    CHECK(t->exit_code == -3);
}

TEST_CASE("transcript: escapes cut by the 64 KiB chunk boundary decode the same") {
    for (std::size_t pad = 65'520; pad < 65'540; ++pad) {
        const std::string doc =
            "{\"script_output\":\"" + std::string(pad, 'a') + "\\u0000\\ud83d\\ude00\\r\\n\"}";
        auto t = read_transcript_bytes(doc);
        REQUIRE(t.ok());
        CHECK(t->output.sha256 == sha256_hex(std::string(pad, 'a') + "\xF0\x9F\x98\x80\n"));
    }
}

TEST_CASE("transcript: the preview is cut at the cap on a UTF-8 boundary") {
    auto t = read_transcript_bytes("{\"script_output\":\"abcd\\u00e9fgh\"}", 5);
    REQUIRE(t.ok());
    CHECK(t->output.preview == "abcd");
    CHECK(t->output.truncated);
    CHECK(t->output.bytes == 9);
}

TEST_CASE("transcript: malformed or hostile JSON is an error naming the byte offset") {
    struct Case {
        std::string doc;
        std::string says;
        Errc code = Errc::invalid_input;
    };
    const Case cases[] = {
        {"", "offset 0: empty"},
        {"not json", "offset 0: not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {"{\"script_output\":\"abc", "offset 21: truncated"},
        {"{\"script_name\":\"x\"}", "no \"script_output\" key"},
        {"{\"script_output\":\"a\\q\"}", "offset 20: bad escape"},
        {"{\"script_output\":\"\\u12g4\"}", "not a hex digit"},
        {"{\"script_output\":\"\"} x", "offset 21: data after the JSON object"},
        {"{\"script_output\":\"\",\"script_output\":\"\"}", "appears twice"},
        {"{\"script_output\":[]}", "is not a string"},
        {"{\"exit_code\":tru,\"script_output\":\"\"}", "not a JSON value"},
        {"{\"" + std::string(2000, 'k') + "\":1}", "offset 1026: a key longer than 1024 bytes",
         Errc::limit_exceeded},
        {"{\"x\":" + std::string(100, '[') + "}", "nested deeper than 32", Errc::limit_exceeded},
    };
    for (const auto& c : cases) {
        auto t = read_transcript_bytes(c.doc);
        REQUIRE_FALSE_MESSAGE(t.ok(), c.doc.substr(0, 60));
        CHECK_MESSAGE(t.error().message.rfind("transcript: offset ", 0) == 0, t.error().message);
        CHECK_MESSAGE(t.error().message.find(c.says) != std::string::npos, t.error().message);
        CHECK(t.error().code == make_error_code(c.code));
    }
}

TEST_CASE("transcript: a FIFO and a symbolic link are refused without blocking") {
    TempDir dir;
    const fs::path fifo = dir.path() / "fifo.json";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto f = read_transcript(fifo.string());
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().message.find("FIFO") != std::string::npos);

    const fs::path real = dir.write("real.json", "{\"script_output\":\"x\"}");
    const fs::path link = dir.path() / "link.json";
    fs::create_symlink(real, link);
    auto l = read_transcript(link.string());
    REQUIRE_FALSE(l.ok());
    CHECK(l.error().message.find("symbolic link") != std::string::npos);
    auto r = read_transcript(real.string());
    REQUIRE(r.ok());
    CHECK(r->output.preview == "x");
}

TEST_CASE("transcript: a 100 MB transcript is streamed in bounded memory") {
    TempDir dir;
    const fs::path path = dir.path() / "big.json";
    const std::string line =
        std::string(190, 'x') + "\\u0000 line\\r\\n";  // 190 + 5 decoded bytes + LF
    const std::size_t lines = 100 * 1024 * 1024 / line.size() + 1;
    std::uint64_t expect = 0;
    {
        std::ofstream out(path, std::ios::binary);
        out << "{\"script_name\":\"big.ps1\",\"exit_code\":1,\"script_output\":\"Transcript "
               "started, output file is "
               "C:\\\\t.txt\\r\\n";
        std::string block;
        for (std::size_t i = 0; i < lines; ++i) {
            block += line;
            if (block.size() > (1 << 20) || i + 1 == lines) {
                out << block;
                block.clear();
            }
        }
        out << "Transcript stopped, output file is C:\\\\t.txt\\r\\n\",\"script_errors\":\"\"}";
        expect = lines * 196;
    }
    REQUIRE(fs::file_size(path) > 100u * 1024 * 1024);
    // Resets the peak RSS (Linux >= 4.0) so the delta is this reader's.
    if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
        std::fputs("5", f);
        std::fclose(f);
    }
    const std::uint64_t before = vm_hwm_kib();
    auto t = read_transcript(path.string());
    const std::uint64_t after = vm_hwm_kib();
    REQUIRE_MESSAGE(t.ok(), t.error().message);
    CHECK(t->exit_code == 1);
    CHECK(t->output.bytes == expect);
    CHECK(t->output.truncated);
    CHECK(t->output.preview.size() == 64 * 1024);
    CHECK(t->header == "Transcript started, output file is C:\\t.txt\n");
    CHECK(t->footer == "Transcript stopped, output file is C:\\t.txt\n");
    CHECK(t->peak_held < 512 * 1024);
    // Generous: sanitizer bookkeeping, not the 100 MB file.
    CHECK(after - before < 48 * 1024);
}
