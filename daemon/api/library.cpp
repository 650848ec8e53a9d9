#include "api/library.hpp"

#include "api/mde.hpp"
#include "common/diagnostic.hpp"
#include "common/sha256.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <optional>
#include <set>
#include <utility>

namespace lrsched::api {
namespace {

using nlohmann::json;

constexpr std::string_view kPausePrefix = "the live response library of tenant ";

std::string str(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<LibraryFile> entity_from(const json& j) {
    const auto name = j.find("fileName");
    if (name == j.end() || !name->is_string()) return std::nullopt;
    return LibraryFile{name->get<std::string>(), to_lower(str(j, "sha256"))};
}

bool same_digest(std::string_view a, std::string_view b) {
    return !a.empty() && to_lower(a) == to_lower(b);
}

}  // namespace

bool is_library_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

Result<std::vector<LibraryFile>> parse_library_list(std::string_view text) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return Error{Errc::server_error, "library list: response is not JSON"};
    const auto v = j.is_object() ? j.find("value") : j.end();
    if (v == j.end() || !v->is_array())
        return Error{Errc::server_error, "library list: no value array"};
    std::vector<LibraryFile> out;
    out.reserve(v->size());
    for (const auto& item : *v) {
        if (!item.is_object())
            return Error{Errc::server_error, "library list: an entry is not an object"};
        if (auto f = entity_from(item)) out.push_back(std::move(*f));
    }
    return out;
}

MultipartBody library_upload_body(std::string_view name,
                                  std::string_view content,
                                  std::string_view description) {
    assert(is_library_name(name));
    // A boundary made of the content's own digest cannot occur in it short
    // of a SHA-256 fixed point; the check below makes that a certainty.
    const std::string digest = sha256_hex(content);
    std::string boundary;
    for (int i = 0;; ++i) {
        boundary = "lrsched-" + sha256_hex(std::to_string(i) + ":" + digest).substr(0, 32);
        if (content.find(boundary) == std::string_view::npos &&
            description.find(boundary) == std::string_view::npos)
            break;
    }
    const auto part = [&](std::string_view field, std::string_view filename) {
        std::string head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"";
        head += field;
        head += '"';
        if (!filename.empty()) {
            head += "; filename=\"";
            head += filename;
            head += "\"\r\nContent-Type: application/octet-stream";
        }
        return head + "\r\n\r\n";
    };
    MultipartBody out;
    out.content_type = "multipart/form-data; boundary=" + boundary;
    std::string& b = out.body;
    b.reserve(content.size() + description.size() + 512);
    b += part("File", name);
    b += content;
    b += "\r\n";
    b += part("Description", {});
    b += description;
    b += "\r\n";
    b += part("OverrideIfExists", {});
    b += "true\r\n--" + boundary + "--\r\n";
    return out;
}

UploadResult classify_upload(int status, std::string_view body) {
    UploadResult r;
    r.message = http_error_text(status, body);
    if (status >= 200 && status < 300) {
        r.outcome = UploadOutcome::uploaded;
        const json j = json::parse(body, nullptr, false);
        if (j.is_object())
            if (auto f = entity_from(j)) r.entity = std::move(*f);
        r.message.clear();
    } else if (status >= 400 && status < 500 && status != 408 && status != 429) {
        r.outcome = UploadOutcome::refused;
    } else {
        r.outcome = UploadOutcome::retry_later;
    }
    return r;
}

std::vector<std::size_t> uploads_needed(const std::vector<LocalFile>& local,
                                        const std::vector<LibraryFile>& library) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < local.size(); ++i) {
        const bool held = std::any_of(library.begin(), library.end(), [&](const LibraryFile& f) {
            return f.file_name == local[i].name && same_digest(f.sha256, local[i].sha256);
        });
        if (!held) out.push_back(i);
    }
    return out;
}

void record_upload(std::vector<LibraryFile>& library, LibraryFile file) {
    file.sha256 = to_lower(file.sha256);
    bool found = false;
    for (auto& f : library)
        if (f.file_name == file.file_name) {
            f.sha256 = file.sha256;
            found = true;
        }
    if (!found) library.push_back(std::move(file));
}

bool uses_library(const std::vector<Command>& commands) noexcept {
    return std::any_of(commands.begin(), commands.end(), [](const Command& c) {
        return c.type == CommandType::PutFile || c.type == CommandType::RunScript;
    });
}

std::vector<MissingFile> missing_from_library(const std::vector<Command>& commands,
                                              const std::vector<LibraryFile>& library) {
    std::set<std::string_view> held;
    for (const auto& f : library)
        held.insert(f.file_name);
    std::vector<MissingFile> out;
    for (const auto& c : commands) {
        if (c.type == CommandType::GetFile || held.count(c.param) > 0) continue;
        MissingFile m{c.param, c.type};
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(std::move(m));
    }
    return out;
}

std::string library_pause_reason(std::string_view tenant, const std::vector<MissingFile>& missing) {
    std::string out(kPausePrefix);
    out += tenant;
    out += " lacks ";
    for (std::size_t i = 0; i < missing.size(); ++i) {
        if (i > 0) out += ", ";
        const auto& m = missing[i];
        out += is_library_name(m.name) ? m.name : quote_value(m.name);
        out += " (";
        out += to_string(m.type);
        out += ')';
    }
    return out;
}

bool is_library_pause(std::string_view reason) noexcept {
    return reason.substr(0, kPausePrefix.size()) == kPausePrefix;
}

}  // namespace lrsched::api
