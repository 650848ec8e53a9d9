// The library store and the multipart/form-data parser (see library.hpp).
#include "sim/model/library.hpp"

#include <algorithm>

namespace lrsched::sim {
namespace {

constexpr std::size_t kMaxParts = 32;

// The value of `key=` in a header such as `form-data; name="File"; filename="a.ps1"`.
std::optional<std::string> header_param(std::string_view header, std::string_view key) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        const auto semi = header.find(';', pos);
        std::string_view item =
            header.substr(pos, semi == std::string_view::npos ? semi : semi - pos);
        pos = semi == std::string_view::npos ? header.size() : semi + 1;
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || !iequals(item.substr(0, eq), key)) continue;
        std::string_view v = item.substr(eq + 1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return std::string(v);
    }
    return std::nullopt;
}

}  // namespace

nlohmann::json library_json(const LibraryFile& f) {
    return {{"fileName", f.file_name},
            {"sha256", f.sha256},
            {"description", f.description},
            {"creationTime", iso_time(f.creation_time)},
            {"lastUpdatedTime", iso_time(f.last_updated_time)},
            {"createdBy", f.created_by},
            {"hasParameters", f.has_parameters},
            {"parametersDescription", f.parameters_description.empty()
                                          ? nlohmann::json(nullptr)
                                          : nlohmann::json(f.parameters_description)}};
}

bool is_library_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

const LibraryFile* Library::find(std::string_view name) const {
    for (const auto& f : files_)
        if (f.file_name == name) return &f;
    return nullptr;
}

void Library::put(LibraryFile f) {
    for (auto& existing : files_)
        if (existing.file_name == f.file_name) {
            f.creation_time = existing.creation_time;
            existing = std::move(f);
            return;
        }
    files_.push_back(std::move(f));
}

bool Library::remove(std::string_view name) {
    const auto it = std::find_if(files_.begin(), files_.end(),
                                 [&](const LibraryFile& f) { return f.file_name == name; });
    if (it == files_.end()) return false;
    files_.erase(it);
    return true;
}

std::optional<std::vector<FormPart>> parse_multipart(std::string_view content_type,
                                                     std::string_view body,
                                                     std::string& error) {
    const auto semi = content_type.find(';');
    if (!iequals(content_type.substr(0, semi), "multipart/form-data")) {
        error = "Content-Type must be multipart/form-data";
        return std::nullopt;
    }
    const auto boundary = header_param(
        content_type.substr(semi == std::string_view::npos ? content_type.size() : semi + 1),
        "boundary");
    if (!boundary || boundary->empty() || boundary->size() > 200) {
        error = "multipart/form-data without a boundary";
        return std::nullopt;
    }
    const std::string delim = "--" + *boundary;
    std::vector<FormPart> parts;
    std::size_t pos = body.find(delim);
    if (pos == std::string_view::npos) {
        error = "multipart body has no part";
        return std::nullopt;
    }
    for (;;) {
        pos += delim.size();
        if (body.substr(pos, 2) == "--") break;  // the closing delimiter
        if (body.substr(pos, 2) != "\r\n") {
            error = "malformed multipart delimiter";
            return std::nullopt;
        }
        pos += 2;
        const auto head_end = body.find("\r\n\r\n", pos);
        const auto next = body.find("\r\n" + delim, pos);
        if (head_end == std::string_view::npos || next == std::string_view::npos ||
            head_end > next) {
            error = "malformed multipart part";
            return std::nullopt;
        }
        if (parts.size() >= kMaxParts) {
            error = "too many multipart parts";
            return std::nullopt;
        }
        FormPart part;
        std::string_view headers = body.substr(pos, head_end - pos);
        while (!headers.empty()) {
            const auto eol = headers.find("\r\n");
            const std::string_view line = headers.substr(0, eol);
            headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            if (!iequals(line.substr(0, colon), "content-disposition")) continue;
            const std::string_view value = line.substr(colon + 1);
            part.name = header_param(value, "name").value_or("");
            part.filename = header_param(value, "filename").value_or("");
        }
        if (part.name.empty()) {
            error = "a multipart part has no name";
            return std::nullopt;
        }
        part.body = std::string(body.substr(head_end + 4, next - head_end - 4));
        parts.push_back(std::move(part));
        pos = next + 2;
    }
    return parts;
}

}  // namespace lrsched::sim
