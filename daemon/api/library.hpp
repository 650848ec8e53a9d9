// The live response library as plain data (mde-api.md §5): the listing
// parsed, the upload body built and its answer classified, and the two
// decisions a run start makes with them: which local files to upload, and
// which of a run's PutFile/RunScript names the library lacks. Pure: no
// sockets, no files, no clock. A library holds tens of files, a run a few
// commands; everything here is linear in those.
//
// Names are compared exactly (the library's names are case-sensitive, as
// every body parameter of runliveresponse); SHA-256 digests ignore case.
#pragma once

#include "api/command.hpp"
#include "common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched::api {

// The API's upload limit (mde-api.md §5: "20 MB", the simulator's 20 MiB).
// Larger files are the console's business (250 MB there), never uploaded.
inline constexpr std::uint64_t kMaxLibraryUpload = std::uint64_t{20} * 1024 * 1024;

// Letters, digits, '-', '_' and '.', at most 255 characters, not "." or
// ".." (the console's rule, mde-api.md §5).
bool is_library_name(std::string_view name) noexcept;

struct LibraryFile {
    std::string file_name;
    std::string sha256;  // lower-case hex; empty when the API gave none
};

// GET /api/libraryfiles: {"value": [{"fileName": ..., "sha256": ...}, ...]}.
// An entry without a string fileName is skipped (no command can name it);
// a missing or odd sha256 is kept as empty, which never matches a local
// file, so that file is uploaded again. Not JSON, no value array, or an
// entry that is not an object: an error.
Result<std::vector<LibraryFile>> parse_library_list(std::string_view json);

// ---- upload ----

struct MultipartBody {
    std::string content_type;  // multipart/form-data; boundary=...
    std::string body;
};

// The POST /api/libraryfiles body: File (named `name`), Description and
// OverrideIfExists=true. Precondition: is_library_name(name). The boundary
// is derived from the content and checked not to occur in it.
MultipartBody library_upload_body(std::string_view name,
                                  std::string_view content,
                                  std::string_view description);

enum class UploadOutcome {
    uploaded,     // 2xx: the library holds the file now
    refused,      // another 4xx (too large, a name it will not take): final for this content
    retry_later,  // 408, 429 (after the client's retries), 5xx: try again at the next check
};

struct UploadResult {
    UploadOutcome outcome = UploadOutcome::retry_later;
    LibraryFile entity;   // with uploaded, when the answer had one (sha256 may be empty)
    std::string message;  // the API's code and message, or "HTTP n"
};

// What an upload's answer means. 401 and 403 never get here (the client
// turns them into Errc::permission_denied).
UploadResult classify_upload(int status, std::string_view body);

// ---- decisions ----

struct LocalFile {
    std::string name;  // a library name
    std::string path;  // where it lies in library_dir
    std::uint64_t bytes = 0;
    std::string sha256;  // lower-case hex
};

// What a scan of library_dir found (runtime/library_dir.hpp): the files to
// keep in the library, and those skipped with the reason.
struct LibraryScan {
    struct Skipped {
        std::string name;
        std::string why;
    };
    std::vector<LocalFile> files;  // sorted by name
    std::vector<Skipped> skipped;
};

// Indexes into `local` of the files the library lacks, or holds with
// another SHA-256, in `local`'s order.
std::vector<std::size_t> uploads_needed(const std::vector<LocalFile>& local,
                                        const std::vector<LibraryFile>& library);

// Records a file the library now holds (adds it, or replaces its digest).
void record_upload(std::vector<LibraryFile>& library, LibraryFile file);

struct MissingFile {
    std::string name;
    CommandType type = CommandType::RunScript;  // PutFile or RunScript
    friend bool operator==(const MissingFile&, const MissingFile&) = default;
};

// The PutFile FileNames and RunScript ScriptNames of `commands` that the
// library lacks, each (name, type) once, in command order.
std::vector<MissingFile> missing_from_library(const std::vector<Command>& commands,
                                              const std::vector<LibraryFile>& library);

// Whether `commands` name anything from the library at all.
bool uses_library(const std::vector<Command>& commands) noexcept;

// The reason a job is paused with while files are missing, e.g. "the live
// response library of tenant contoso lacks collect.ps1 (RunScript),
// tool.exe (PutFile)". Names are quoted when they are not library names
// (a job may name anything).
std::string library_pause_reason(std::string_view tenant, const std::vector<MissingFile>& missing);
// Whether a stored pause reason is one library_pause_reason() made: the
// daemon lifts those pauses itself and no others.
bool is_library_pause(std::string_view reason) noexcept;

}  // namespace lrsched::api
