// lrsched-sim's result links and downloads: the RunScript transcript, the
// GetFile ZIP (unzipped here by hand), link expiry and signatures.
#include "evidence/transcript.hpp"
#include "evidence/zip_content.hpp"
#include "sim/model/results.hpp"
#include "support/sim_harness.hpp"

#include <cstring>

using lrsched::test::body_of;
using lrsched::test::lr_body;
using lrsched::test::quiet_sim_config;
using lrsched::test::SimHarness;

namespace {

const std::string kPath = "C:\\Windows\\Temp\\ir-2291\\triage.zip";

std::uint32_t le32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = v << 8 | static_cast<unsigned char>(s.at(at + static_cast<std::size_t>(i)));
    return v;
}
std::uint16_t le16(const std::string& s, std::size_t at) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(s.at(at)) |
                                      static_cast<unsigned char>(s.at(at + 1)) << 8);
}

// A bit-at-a-time CRC-32, independent of the simulator's table version.
std::uint32_t slow_crc32(const std::string& data) {
    std::uint32_t crc = 0xffffffffU;
    for (unsigned char c : data) {
        crc ^= c;
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1U)));
    }
    return ~crc;
}

std::string drain(lrsched::sim::BodySource& s, std::size_t chunk) {
    std::string out;
    std::string buf(chunk, '\0');
    for (std::size_t n; (n = s.read(buf.data(), buf.size())) > 0;)
        out.append(buf, 0, n);
    return out;
}

struct Setup {
    SimHarness h;
    std::string action;
    explicit Setup(lrsched::sim::SimConfig c) : h(std::move(c)) {
        h.login(0);
        const auto r = h.submit(
            h.machine(2),
            lr_body({{"PutFile", {{"FileName", "autoruns.exe"}}},
                     {"RunScript", {{"ScriptName", "collect-triage.ps1"}, {"Args", "-Deep"}}},
                     {"GetFile", {{"Path", kPath}}}}),
            0);
        REQUIRE(r.status == 201);
        action = body_of(r)["id"];
    }
    lrsched::sim::HttpResponse link(int index, double now) {
        return h.get("/api/machineactions/" + action +
                         "/GetLiveResponseResultDownloadLink(index=" + std::to_string(index) + ")",
                     now);
    }
    // The link's path and query on the simulator's host (no bearer token).
    std::string link_target(int index, double now) {
        const auto r = link(index, now);
        REQUIRE(r.status == 200);
        const auto b = body_of(r);
        CHECK(b["@odata.context"] == "https://127.0.0.1:4443/api/$metadata#Edm.String");
        const std::string url = b["value"];
        REQUIRE(url.rfind("https://127.0.0.1:4443/_sim/blob/", 0) == 0);
        return url.substr(std::strlen("https://127.0.0.1:4443"));
    }
    lrsched::sim::HttpResponse download(const std::string& target, double now) {
        return h.call("GET", target, "", now, "", false);
    }
};

}  // namespace

TEST_CASE("sim results: a RunScript link downloads the JSON transcript, NULs included") {
    Setup s(quiet_sim_config());
    const auto r = s.download(s.link_target(1, 20), 21);
    REQUIRE(r.status == 200);
    CHECK(r.body.find("\\u0000") != std::string::npos);
    const auto t = nlohmann::json::parse(r.body);
    CHECK(t["script_name"] == "collect-triage.ps1");
    CHECK(t["exit_code"].is_number_integer());
    CHECK(t["script_errors"].is_string());
    const std::string out = t["script_output"];
    CHECK(out.rfind(
              "Transcript started, output file is C:\\ProgramData\\Microsoft\\Windows "
              "Defender Advanced Threat Protection\\Temp\\PSScriptOutputs\\PSScript_Transcript_" +
                  s.action + ".txt",
              0) == 0);
    CHECK(out.find('\0') != std::string::npos);
    CHECK(out.find("-Deep") != std::string::npos);
    const std::string footer =
        "Transcript stopped, output file is C:\\ProgramData\\Microsoft\\Windows "
        "Defender Advanced Threat Protection\\Temp\\PSScriptOutputs\\PSScript_"
        "Transcript_" +
        s.action + ".txt\r\n";
    REQUIRE(out.size() > footer.size());
    CHECK(out.substr(out.size() - footer.size()) == footer);

    // The evidence reader sets the header and footer apart: what is left is
    // the script's output alone, NUL-free, with LF line ends.
    const auto read = lrsched::evidence::read_transcript_bytes(r.body);
    REQUIRE(read.ok());
    CHECK(read->script_name == "collect-triage.ps1");
    CHECK(read->header.find("PSScript_Transcript_" + s.action + ".txt\n") != std::string::npos);
    CHECK(read->footer.rfind("Transcript stopped, output file is ", 0) == 0);
    CHECK(read->output.preview.rfind("lrsched-sim ran collect-triage.ps1 -Deep", 0) == 0);
    CHECK(read->output.preview.find("done\n") != std::string::npos);
    CHECK(read->output.preview.find('\0') == std::string::npos);
    CHECK(read->output.preview.find(s.action) == std::string::npos);
}

TEST_CASE("sim results: a GetFile link downloads a streamed ZIP of the expected file") {
    auto c = quiet_sim_config();
    c.getfile_size = 100'003;
    Setup s(c);
    const auto r = s.download(s.link_target(2, 20), 21);
    REQUIRE(r.status == 200);
    REQUIRE(r.stream != nullptr);
    const std::uint64_t announced = r.stream->size();
    const std::string zip = drain(*r.stream, 4093);
    CHECK(zip.size() == announced);

    REQUIRE(le32(zip, 0) == 0x04034b50);
    CHECK((le16(zip, 6) & 0x0008) != 0);  // data descriptor
    CHECK(le16(zip, 8) == 0);             // stored
    const std::size_t name_len = le16(zip, 26), extra_len = le16(zip, 28);
    CHECK(zip.substr(30, name_len) == "triage.zip");
    const std::size_t data_at = 30 + name_len + extra_len;
    const std::string data = zip.substr(data_at, c.getfile_size);
    const std::size_t desc = data_at + c.getfile_size;
    REQUIRE(le32(zip, desc) == 0x08074b50);
    CHECK(le32(zip, desc + 4) == slow_crc32(data));
    CHECK(le32(zip, desc + 8) == c.getfile_size);
    CHECK(le32(zip, desc + 12) == c.getfile_size);
    CHECK(le32(zip, desc + 16) == 0x02014b50);  // central directory
    CHECK(le32(zip, desc + 16 + 16) == slow_crc32(data));
    CHECK(le32(zip, zip.size() - 22) == 0x06054b50);
    CHECK(le32(zip, zip.size() - 22 + 16) == desc + 16);  // where the directory starts

    const std::string& machine = s.h.machine(2).id;
    CHECK(lrsched::sim::sha256_hex(data) ==
          lrsched::sim::expected_file_sha256(machine, kPath, c.getfile_size));
    CHECK(data == lrsched::sim::expected_file_content(machine, kPath, c.getfile_size));
    CHECK(lrsched::sim::expected_file_sha256(machine, "C:\\other", c.getfile_size) !=
          lrsched::sim::expected_file_sha256(machine, kPath, c.getfile_size));

    // The evidence ZIP reader takes the sim's archive (data descriptor and all).
    const auto content = lrsched::evidence::read_zip_content_bytes(zip);
    REQUIRE_MESSAGE(content.ok(), content.error().message);
    REQUIRE(content->entries.size() == 1);
    CHECK(content->entries[0].name == "triage.zip");
    CHECK(content->entries[0].bytes == c.getfile_size);
    CHECK(content->entries[0].sha256 == lrsched::sim::sha256_hex(data));
}

TEST_CASE("sim results: links expire after link_lifetime and can be asked for again") {
    auto c = quiet_sim_config();
    c.link_lifetime = 10;
    Setup s(c);
    const std::string target = s.link_target(1, 20);
    CHECK(s.download(target, 29.9).status == 200);
    const auto expired = s.download(target, 30);
    CHECK(expired.status == 403);
    CHECK(expired.body.find("<Code>AuthenticationFailed</Code>") != std::string::npos);
    CHECK(expired.body.find("expiry") != std::string::npos);
    CHECK(s.download(s.link_target(1, 40), 45).status == 200);
}

TEST_CASE("sim results: a tampered link is refused") {
    Setup s(quiet_sim_config());
    const std::string target = s.link_target(2, 20);
    std::string bad_sig = target;
    bad_sig.back() = bad_sig.back() == '0' ? '1' : '0';
    CHECK(s.download(bad_sig, 21).status == 403);
    const auto se = target.find("se=2025");
    REQUIRE(se != std::string::npos);
    std::string later = target;
    later.replace(se + 3, 4, "2099");
    CHECK(s.download(later, 21).status == 403);
    CHECK(s.download("/_sim/blob/nope?se=x&sp=r&sig=y", 21).status == 403);
}

TEST_CASE("sim results: no link for PutFile, unfinished commands or bad indexes") {
    Setup s(quiet_sim_config());
    auto code = [&](int index, double now) {
        const auto r = s.link(index, now);
        return std::to_string(r.status) + " " + body_of(r)["error"]["code"].get<std::string>();
    };
    CHECK(code(0, 20) == "400 BadRequest");  // PutFile
    CHECK(code(2, 6) == "400 BadRequest");   // GetFile still Created at 6
    CHECK(code(3, 20) == "400 BadRequest");
    CHECK(
        s.h.get("/api/machineactions/" + s.action + "/GetLiveResponseResultDownloadLink(index=-1)",
                20)
            .status == 400);
    CHECK(s.h.get("/api/machineactions/00000000-0000-4000-8000-000000000000/"
                  "GetLiveResponseResultDownloadLink(index=1)",
                  20)
              .status == 404);
}

TEST_CASE("sim results: the ZIP entry is named after the remote path's last component") {
    CHECK(lrsched::sim::zip_entry_name("C:\\Windows\\Temp\\autoruns.csv") == "autoruns.csv");
    CHECK(lrsched::sim::zip_entry_name("/var/log/syslog") == "syslog");
    CHECK(lrsched::sim::zip_entry_name("C:") == "file");
    CHECK(lrsched::sim::zip_entry_name("C:\\dir\\..") == "file");
}
