// The live response library's pure parts (api/library.hpp): the listing
// parser against hostile answers, the upload body checked by the
// simulator's own multipart parser and upload endpoint, the classification
// of upload answers, and the two decisions a run start makes.
#include "api/library.hpp"

#include "common/sha256.hpp"
#include "support/sim_harness.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

using namespace lrsched::api;
using lrsched::sha256_hex;
using lrsched::api::Command;
using lrsched::api::CommandType;

namespace {

const std::string kSha = std::string(64, 'a');

std::vector<LibraryFile> parsed(const std::string& body) {
    auto r = parse_library_list(body);
    REQUIRE_MESSAGE(r.ok(), body.substr(0, 200));
    return std::move(r).value();
}

std::string error_of(const std::string& body) {
    auto r = parse_library_list(body);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

// Every byte value, twice, plus what looks like a multipart delimiter.
std::string hostile_content() {
    std::string s;
    for (int round = 0; round < 2; ++round)
        for (int c = 0; c < 256; ++c)
            s += static_cast<char>(c);
    s += "\r\n--\r\n--lrsched-\r\nContent-Disposition: form-data; name=\"File\"\r\n\r\n--";
    return s;
}

Command cmd(CommandType type, std::string param) {
    return {type, std::move(param), std::nullopt};
}

}  // namespace

TEST_CASE("library listings are read by file name and digest, digests in lower case") {
    const auto files = parsed(R"({"@odata.context":"https://x/api/$metadata#LibraryFiles","value":[
        {"fileName":"collect.ps1","sha256":")" +
                              std::string(64, 'A') + R"(","description":"d","hasParameters":true,
         "creationTime":"2025-01-01T00:00:00Z","createdBy":"me","parametersDescription":null},
        {"fileName":"tool.exe","sha256":")" +
                              kSha + R"("}]})");
    REQUIRE(files.size() == 2);
    CHECK(files[0].file_name == "collect.ps1");
    CHECK(files[0].sha256 == kSha);
    CHECK(files[1].file_name == "tool.exe");
    CHECK(parsed(R"({"value":[]})").empty());
}

TEST_CASE("hostile library listings are errors or skipped entries, never crashes") {
    CHECK(error_of("") == "library list: response is not JSON");
    CHECK(error_of("<html>502 Bad Gateway</html>") == "library list: response is not JSON");
    CHECK(error_of(R"({"value":[{"fileName":"a.ps1")") == "library list: response is not JSON");
    CHECK(error_of("[]") == "library list: no value array");
    CHECK(error_of("null") == "library list: no value array");
    CHECK(error_of(R"({"value":{"fileName":"a.ps1"}})") == "library list: no value array");
    CHECK(error_of(R"({"Value":[]})") == "library list: no value array");
    CHECK(error_of(R"({"value":[{"fileName":"a.ps1"}, "b.ps1"]})") ==
          "library list: an entry is not an object");
    CHECK(error_of(R"({"value":[null]})") == "library list: an entry is not an object");
    // Deep nesting inside an entry is parsed without recursion trouble, then refused.
    const int depth = 10'000;
    CHECK(error_of(R"({"value":[)" + std::string(depth, '[') + std::string(depth, ']') + "]}") ==
          "library list: an entry is not an object");

    // Members of the wrong type: no name, no entry; no digest, an empty one.
    const auto files = parsed(R"({"value":[
        {"fileName":5,"sha256":"aa"}, {"sha256":"bb"}, {"fileName":null},
        {"fileName":"a.ps1","sha256":7}, {"fileName":"b.ps1","sha256":null},
        {"fileName":"c.ps1","sha256":["x"]}, {"fileName":"d.ps1"}]})");
    REQUIRE(files.size() == 4);
    for (const auto& f : files) {
        INFO(f.file_name);
        CHECK(f.sha256.empty());
    }
    CHECK(files[0].file_name == "a.ps1");
    CHECK(files[3].file_name == "d.ps1");

    // Odd and huge names are kept as they are (they match no command) ...
    const std::string huge(1'000'000, 'x');
    const auto odd = parsed(R"({"value":[{"fileName":")" + huge +
                            R"("},{"fileName":"a\u0000b\nc.ps1"},{"fileName":""}]})");
    REQUIRE(odd.size() == 3);
    CHECK(odd[0].file_name == huge);
    CHECK(odd[1].file_name == std::string("a\0b\nc.ps1", 9));
    // ... and never make a missing file look present.
    const std::vector<Command> wants = {cmd(CommandType::RunScript, "a")};
    CHECK(missing_from_library(wants, odd).size() == 1);
}

TEST_CASE("library names are letters, digits, '-', '_' and '.'") {
    CHECK(is_library_name("collect-autoruns_v2.ps1"));
    CHECK(is_library_name("A.EXE"));
    CHECK(is_library_name(std::string(255, 'a')));
    CHECK_FALSE(is_library_name(std::string(256, 'a')));
    CHECK_FALSE(is_library_name(""));
    CHECK_FALSE(is_library_name("."));
    CHECK_FALSE(is_library_name(".."));
    CHECK_FALSE(is_library_name("my script.ps1"));
    CHECK_FALSE(is_library_name("../x.ps1"));
    CHECK_FALSE(is_library_name("dir/x.ps1"));
    CHECK_FALSE(is_library_name("x\"y.ps1"));
    CHECK_FALSE(is_library_name("sk\xc3\xa4r.ps1"));
    CHECK_FALSE(is_library_name(std::string("a\0b", 3)));
}

TEST_CASE("the upload body is multipart/form-data the simulator's parser reads back exactly") {
    for (const std::string& content :
         {std::string(), std::string("Write-Output 'hello'\r\n"), hostile_content()}) {
        const MultipartBody m = library_upload_body("collect.ps1", content, "kept by lrsched");
        const std::string prefix = "multipart/form-data; boundary=";
        REQUIRE(m.content_type.rfind(prefix, 0) == 0);
        const std::string boundary = m.content_type.substr(prefix.size());
        CHECK(content.find(boundary) == std::string::npos);
        std::string why;
        const auto parts = lrsched::sim::parse_multipart(m.content_type, m.body, why);
        REQUIRE_MESSAGE(parts.has_value(), why);
        REQUIRE(parts->size() == 3);
        CHECK((*parts)[0].name == "File");
        CHECK((*parts)[0].filename == "collect.ps1");
        CHECK((*parts)[0].body == content);
        CHECK((*parts)[1].name == "Description");
        CHECK((*parts)[1].body == "kept by lrsched");
        CHECK((*parts)[2].name == "OverrideIfExists");
        CHECK((*parts)[2].body == "true");
    }
    // Different contents get different boundaries (derived from the digest).
    CHECK(library_upload_body("a", "x", "").content_type !=
          library_upload_body("a", "y", "").content_type);
}

TEST_CASE("an uploaded body lands in the simulator's library under its name and digest") {
    lrsched::test::SimHarness h;
    h.login(0);
    const std::string content = hostile_content();
    for (int round = 0; round < 2; ++round) {  // the second replaces the first: OverrideIfExists
        const std::string body_content = content + std::to_string(round);
        const MultipartBody m = library_upload_body("tool.exe", body_content, "d");
        const auto r = h.call("POST", "/api/libraryfiles", m.body, 1 + round, m.content_type);
        INFO(r.body);
        REQUIRE(r.status == 200);
        const UploadResult u = classify_upload(r.status, r.body);
        CHECK(u.outcome == UploadOutcome::uploaded);
        CHECK(u.entity.file_name == "tool.exe");
        CHECK(u.entity.sha256 == sha256_hex(body_content));

        const auto listing = h.get("/api/libraryfiles", 1 + round);
        REQUIRE(listing.status == 200);
        const auto files = parsed(listing.body);
        const auto it = std::find_if(files.begin(), files.end(), [](const LibraryFile& f) {
            return f.file_name == "tool.exe";
        });
        REQUIRE(it != files.end());
        CHECK(it->sha256 == sha256_hex(body_content));
    }
}

TEST_CASE("upload answers: 2xx uploaded, client errors refused, the rest tried again later") {
    const auto ok =
        classify_upload(200, R"({"fileName":"a.ps1","sha256":")" + std::string(64, 'B') + R"("})");
    CHECK(ok.outcome == UploadOutcome::uploaded);
    CHECK(ok.entity.file_name == "a.ps1");
    CHECK(ok.entity.sha256 == std::string(64, 'b'));
    CHECK(ok.message.empty());

    const auto odd = classify_upload(201, "not json");
    CHECK(odd.outcome == UploadOutcome::uploaded);
    CHECK(odd.entity.file_name.empty());
    CHECK(classify_upload(200, R"({"fileName":3})").entity.file_name.empty());

    const auto big = classify_upload(
        400,
        R"({"error":{"code":"BadRequest","message":"The file is larger than the 20 MB upload limit"}})");
    CHECK(big.outcome == UploadOutcome::refused);
    CHECK(big.message == "HTTP 400 BadRequest: \"The file is larger than the 20 MB upload limit\"");
    CHECK(classify_upload(413, "").outcome == UploadOutcome::refused);
    CHECK(classify_upload(413, "").message == "HTTP 413");
    CHECK(classify_upload(404, "<html/>").outcome == UploadOutcome::refused);

    for (const int status : {408, 429, 500, 502, 503, 504, 302, 100})
        CHECK(classify_upload(status, "").outcome == UploadOutcome::retry_later);
}

TEST_CASE("a local file is uploaded when the library lacks it or holds other content") {
    const std::string a = sha256_hex("a"), b = sha256_hex("b"), c = sha256_hex("c");
    const std::vector<LocalFile> local = {
        {"same.ps1", "/l/same.ps1", 1, a},          // held with the same digest
        {"upper.ps1", "/l/upper.ps1", 1, b},        // held, the API wrote the digest upper-case
        {"differs.ps1", "/l/differs.ps1", 1, c},    // held with another digest
        {"new.exe", "/l/new.exe", 1, a},            // not held
        {"Case.ps1", "/l/Case.ps1", 1, a},          // held as case.ps1 only: names are exact
        {"nodigest.ps1", "/l/nodigest.ps1", 1, a},  // held, the API gave no digest
    };
    std::string upper = b;
    for (auto& ch : upper)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const std::vector<LibraryFile> library = {{"same.ps1", a},      {"upper.ps1", upper},
                                              {"differs.ps1", a},   {"case.ps1", a},
                                              {"nodigest.ps1", ""}, {"other.ps1", b}};
    CHECK(uploads_needed(local, library) == std::vector<std::size_t>{2, 3, 4, 5});
    CHECK(uploads_needed(local, {}).size() == local.size());
    CHECK(uploads_needed({}, library).empty());

    std::vector<LibraryFile> after = library;
    for (const std::size_t i : uploads_needed(local, library))
        record_upload(after, {local[i].name, local[i].sha256});
    CHECK(uploads_needed(local, after).empty());
    CHECK(after.size() == library.size() + 2);  // new.exe and Case.ps1 added, the rest replaced
}

TEST_CASE("missing library files are the run's PutFile and RunScript names the library lacks") {
    const std::vector<LibraryFile> library = {{"tool.exe", kSha}, {"collect.ps1", kSha}};
    const std::vector<Command> commands = {
        cmd(CommandType::PutFile, "tool.exe"),       cmd(CommandType::PutFile, "helper.dll"),
        cmd(CommandType::RunScript, "collect.ps1"),  cmd(CommandType::RunScript, "Collect.ps1"),
        cmd(CommandType::RunScript, "helper.dll"),   cmd(CommandType::RunScript, "Collect.ps1"),
        cmd(CommandType::GetFile, "C:\\absent.txt"),
    };
    const auto missing = missing_from_library(commands, library);
    CHECK(missing == std::vector<MissingFile>{{"helper.dll", CommandType::PutFile},
                                              {"Collect.ps1", CommandType::RunScript},
                                              {"helper.dll", CommandType::RunScript}});
    CHECK(missing_from_library({cmd(CommandType::GetFile, "x")}, {}).empty());
    CHECK(uses_library(commands));
    CHECK_FALSE(uses_library({cmd(CommandType::GetFile, "x")}));
}

TEST_CASE("a library pause names the tenant and the files, and is told apart from other pauses") {
    const std::string why = library_pause_reason(
        "contoso", {{"collect.ps1", CommandType::RunScript}, {"tool.exe", CommandType::PutFile}});
    CHECK(why ==
          "the live response library of tenant contoso lacks collect.ps1 (RunScript), "
          "tool.exe (PutFile)");
    CHECK(is_library_pause(why));
    // A name no library could hold is quoted, control characters escaped.
    const std::string hostile =
        library_pause_reason("t", {{"x\nlevel=error forged", CommandType::PutFile}});
    CHECK(hostile ==
          "the live response library of tenant t lacks \"x\\nlevel=error forged\" "
          "(PutFile)");
    CHECK(hostile.find('\n') == std::string::npos);

    CHECK_FALSE(is_library_pause(""));
    CHECK_FALSE(
        is_library_pause("paused after 3 submits rejected in a row with: BadRequest: File "
                         "\"x.ps1\" was not found in the live response library"));
    CHECK_FALSE(is_library_pause("paused by the operator"));
}
