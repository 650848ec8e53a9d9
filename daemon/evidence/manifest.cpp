#include "evidence/manifest.hpp"

#include "common/diagnostic.hpp"
#include "common/sha256.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace lrsched::evidence {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxLine = std::size_t{64} * 1024;

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

Result<std::string> text_field(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return Error{Errc::invalid_input, std::string("`") + key + "`: expected a string"};
    return it->get<std::string>();
}

Result<std::int64_t> int_field(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0)
        return Error{Errc::invalid_input,
                     std::string("`") + key + "`: expected a non-negative integer"};
    return it->get<std::int64_t>();
}

// Whether a folder on the way from `dir` to `file` is a symbolic link (which
// would make a listed file stand for one outside the run folder).
bool through_symlink(const fs::path& dir, std::string_view file) {
    fs::path p = dir;
    std::error_code ec;
    std::size_t start = 0;
    for (std::size_t slash; (slash = file.find('/', start)) != std::string_view::npos;
         start = slash + 1) {
        p /= std::string(file.substr(start, slash - start));
        if (fs::is_symlink(fs::symlink_status(p, ec))) return true;
    }
    return false;
}

}  // namespace

std::string to_line(const ManifestEntry& e) {
    const json j = {{"job", e.job},
                    {"run", e.run},
                    {"machine_id", e.machine_id},
                    {"computer_dns_name", e.computer_dns_name},
                    {"action_id", e.action_id},
                    {"command_index", e.command_index},
                    {"command_type", e.command_type},
                    {"remote", e.remote},
                    {"file", e.file},
                    {"bytes", e.bytes},
                    {"sha256", e.sha256},
                    {"downloaded_at", e.downloaded_at},
                    {"action_status", e.action_status}};
    // Invalid UTF-8 from the server is replaced, never a reason to lose a line.
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<ManifestEntry> parse_line(std::string_view line) {
    if (line.size() > kMaxLine)
        return Error{Errc::limit_exceeded, "line longer than " + std::to_string(kMaxLine)};
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error{Errc::invalid_input, "not a JSON object"};
    ManifestEntry e;
    const std::pair<const char*, std::string*> texts[] = {
        {"job", &e.job},
        {"machine_id", &e.machine_id},
        {"computer_dns_name", &e.computer_dns_name},
        {"action_id", &e.action_id},
        {"command_type", &e.command_type},
        {"remote", &e.remote},
        {"file", &e.file},
        {"sha256", &e.sha256},
        {"downloaded_at", &e.downloaded_at},
        {"action_status", &e.action_status}};
    for (const auto& [key, out] : texts) {
        auto v = text_field(j, key);
        if (!v) return std::move(v).error();
        *out = std::move(*v);
    }
    const std::pair<const char*, std::int64_t*> ints[] = {
        {"run", &e.run}, {"command_index", &e.command_index}, {"bytes", &e.bytes}};
    for (const auto& [key, out] : ints) {
        auto v = int_field(j, key);
        if (!v) return std::move(v).error();
        *out = *v;
    }
    if (!is_hex64(e.sha256))
        return Error{Errc::invalid_input, "`sha256`: expected 64 lower-case hex characters"};
    if (!is_contained(e.file))
        return Error{Errc::invalid_input,
                     "`file`: " + quote_value(e.file) + " is not a path inside the run folder"};
    return e;
}

bool is_contained(std::string_view file) {
    if (file.empty() || file.front() == '/' || file.find('\0') != std::string_view::npos ||
        file.find('\\') != std::string_view::npos)
        return false;
    std::size_t start = 0;
    while (start <= file.size()) {
        const std::size_t end = std::min(file.find('/', start), file.size());
        const std::string_view part = file.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return true;
}

Result<VerifyReport> verify_run_folder(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        return Error{Errc::not_found, dir + ": not a run folder (no such directory)"};
    const fs::path manifest_path = fs::path(dir) / kManifestFile;
    std::ifstream in(manifest_path);
    if (!in) return Error{Errc::io_error, manifest_path.string() + ": cannot be read"};

    VerifyReport report;
    std::map<std::string, ManifestEntry> listed;  // by file
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (line.empty()) continue;
        auto entry = parse_line(line);
        const std::string where = std::string(kManifestFile) + ":" + std::to_string(number) + ": ";
        if (!entry) {
            report.errors.push_back(where + entry.error().message);
            continue;
        }
        if (!listed.emplace(entry->file, *entry).second)
            report.errors.push_back(where + "`file`: " + quote_value(entry->file) +
                                    " is listed twice");
    }

    for (const auto& [file, e] : listed) {
        const fs::path p = fs::path(dir) / file;
        if (through_symlink(dir, file)) {
            report.altered.push_back(file + " (reached through a symbolic link)");
            continue;
        }
        const auto status = fs::symlink_status(p, ec);
        if (ec || !fs::exists(status)) {
            report.missing.push_back(file);
            continue;
        }
        if (!fs::is_regular_file(status)) {
            report.altered.push_back(file + " (not a regular file)");
            continue;
        }
        const auto size = fs::file_size(p, ec);
        if (ec || static_cast<std::int64_t>(size) != e.bytes) {
            report.altered.push_back(file + " (" + std::to_string(size) + " bytes, manifest says " +
                                     std::to_string(e.bytes) + ")");
            continue;
        }
        auto hash = sha256_file(p.string());
        if (!hash) {
            report.altered.push_back(file + " (" + hash.error().message + ")");
            continue;
        }
        if (*hash != e.sha256) {
            report.altered.push_back(file + " (sha256 " + *hash + ", manifest says " + e.sha256 +
                                     ")");
            continue;
        }
        ++report.verified;
    }

    // Everything else in the folder, symbolic links included (never followed).
    fs::path base = fs::path(dir).lexically_normal();
    if (!base.has_filename()) base = base.parent_path();  // "run/" -> "run"
    for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
        const std::string rel = it->path().lexically_relative(base).generic_string();
        if (rel == kManifestFile || listed.count(rel)) continue;
        report.extra.push_back(rel);
    }
    if (ec) report.errors.push_back(dir + ": " + ec.message());
    std::sort(report.extra.begin(), report.extra.end());
    return report;
}

}  // namespace lrsched::evidence
