#include "evidence/manifest.hpp"

#include "common/diagnostic.hpp"
#include "common/safe_file.hpp"
#include "common/sha256.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <sys/random.h>
#include <unistd.h>

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
    json j = {{"job", e.job},
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
    if (!e.prev.empty()) j["prev"] = e.prev;
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
    if (j.contains("prev")) {
        auto prev = text_field(j, "prev");
        if (!prev || !is_hex64(*prev))
            return Error{Errc::invalid_input, "`prev`: expected 64 lower-case hex characters"};
        e.prev = std::move(*prev);
    }
    if (!is_contained(e.file))
        return Error{Errc::invalid_input,
                     "`file`: " + quote_value(e.file) + " is not a path inside the run folder"};
    return e;
}

std::string chain_head_line(std::string_view job, std::int64_t run, std::string_view seed_hex) {
    const json j = {{"chain", "sha256"},
                    {"seed", std::string(seed_hex)},
                    {"job", std::string(job)},
                    {"run", run}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<std::string> random_seed_hex() {
    unsigned char seed[32];
    std::size_t got = 0;
    while (got < sizeof seed) {
        const ssize_t n = ::getrandom(seed + got, sizeof seed - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{Errc::io_error, std::string("getrandom: ") + std::strerror(errno)};
        got += static_cast<std::size_t>(n);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : seed) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
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

namespace {

// Names in the report come from the manifest or the folder, both writable
// by whoever could plant evidence: quoted, so none can start a line of its
// own or send a terminal sequence. Long enough for any real path.
constexpr std::size_t kNameShown = 4096;
// Bad manifest lines listed; the count covers the rest. A manifest of a
// million one-byte lines must not become a million messages in memory.
constexpr std::size_t kErrorsShown = 100;

std::string name(std::string_view file) {
    return quote_value(file, kNameShown);
}

void add_error(VerifyReport& report, std::string message) {
    ++report.error_count;
    if (report.errors.size() < kErrorsShown) report.errors.push_back(std::move(message));
}

// Calls on_line(number, text) for each line of `file` (the last one may lack
// its newline). A line over kMaxLine is reported by number and skipped, never
// held: memory stays within one line and one read chunk.
template <typename OnLine>
Result<void> for_each_line(RegularFile& file, VerifyReport& report, OnLine on_line) {
    std::string line;
    bool too_long = false;
    std::size_t number = 1;
    const auto finish = [&] {
        if (too_long)
            add_error(report, std::string(kManifestFile) + ":" + std::to_string(number) +
                                  ": line longer than " + std::to_string(kMaxLine) + " bytes");
        else if (!line.empty())
            on_line(number, line);
        line.clear();
        too_long = false;
        ++number;
    };
    std::string chunk(std::size_t{64} * 1024, '\0');
    for (;;) {
        const ssize_t n = ::read(file.fd(), chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return Error{Errc::io_error, std::string(kManifestFile) + ": cannot read line " +
                                             std::to_string(number) + ": " + std::strerror(errno)};
        if (n == 0) break;
        std::string_view rest(chunk.data(), static_cast<std::size_t>(n));
        while (!rest.empty()) {
            const std::size_t nl = rest.find('\n');
            const std::string_view piece = rest.substr(0, nl);
            if (!too_long) {
                if (line.size() + piece.size() > kMaxLine) {
                    too_long = true;
                    line.clear();
                    line.shrink_to_fit();
                } else {
                    line.append(piece);
                }
            }
            if (nl == std::string_view::npos) break;
            finish();
            rest.remove_prefix(nl + 1);
        }
    }
    if (too_long || !line.empty()) finish();
    return ok();
}

void add_break(VerifyReport& report, std::size_t number, const std::string& what) {
    ++report.break_count;
    if (report.breaks.size() < kErrorsShown)
        report.breaks.push_back(std::string(kManifestFile) + ":" + std::to_string(number) + ": " +
                                what);
}

// Follows the chain line by line: each line's `prev` must be the hash of the
// line before it (of the chain head for the first file line). After a break
// it goes on from the line as found, so one removed line is one break.
class ChainCheck {
  public:
    explicit ChainCheck(VerifyReport& report) : report_(report) {}

    // `entry`: the line read as a file's line (nullptr when it is not one).
    // Whether the line is a chain head (not a file's line).
    bool line(std::size_t number, const std::string& text, const ManifestEntry* entry) {
        const json j = json::parse(text, nullptr, false);
        const bool is_head = j.is_object() && j.contains("chain");
        if (is_head)
            head(number, j);
        else if (entry)
            file_line(number, *entry);
        last_ = sha256_hex(text);
        last_number_ = number;
        return is_head;
    }
    void finish() {
        if (mode_ == Mode::none) report_.chain = "empty";
        report_.digest = last_;
    }

  private:
    enum class Mode { none, chained, unchained };

    void head(std::size_t number, const json& j) {
        if (mode_ != Mode::none) {
            add_break(report_, number, "a second chain head: manifests were joined or lines moved");
            return;
        }
        mode_ = Mode::chained;
        report_.chain = "chained";
        const auto seed = j.find("seed");
        if (j.value("chain", json()) != "sha256" || seed == j.end() || !seed->is_string() ||
            !is_hex64(seed->get<std::string>()) || !j.contains("job") || !j["job"].is_string() ||
            !j.contains("run") || !j["run"].is_number_integer())
            add_break(report_, number,
                      "the chain head needs `chain` \"sha256\", a 64-hex `seed`, `job` and `run`");
        else
            job_run_ = {j["job"].get<std::string>(), j["run"].get<std::int64_t>()};
    }

    void file_line(std::size_t number, const ManifestEntry& e) {
        if (mode_ == Mode::none) {
            if (e.prev.empty()) {
                mode_ = Mode::unchained;
                report_.chain = "unchained";
                return;
            }
            mode_ = Mode::chained;
            report_.chain = "chained";
            add_break(report_, number,
                      "`prev` is set but the chain head is missing: the first line was removed");
            return;
        }
        if (mode_ == Mode::unchained) {
            if (!e.prev.empty())
                add_break(report_, number, "`prev` in a manifest whose first line has none");
            return;
        }
        if (e.prev.empty()) {
            add_break(report_, number, "`prev` is missing: the chain stops here");
        } else if (e.prev != last_) {
            add_break(report_, number,
                      "chain broken: `prev` is " + e.prev + " but line " +
                          std::to_string(last_number_) + " hashes to " + last_ +
                          " (a line before this one was removed, moved or edited)");
        }
        if (job_run_ && (e.job != job_run_->first || e.run != job_run_->second))
            add_break(report_, number, "`job`/`run` differ from the chain head's");
    }

    VerifyReport& report_;
    Mode mode_ = Mode::none;
    std::string last_;
    std::size_t last_number_ = 0;
    std::optional<std::pair<std::string, std::int64_t>> job_run_;
};

// Hashes an open regular file by streaming it.
Result<std::string> sha256_of(RegularFile& file) {
    Sha256 h;
    std::string buf(std::size_t{64} * 1024, '\0');
    for (;;) {
        const ssize_t n = ::read(file.fd(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return Error{Errc::io_error, std::string("cannot read: ") + std::strerror(errno)};
        if (n == 0) break;
        h.update({buf.data(), static_cast<std::size_t>(n)});
    }
    return h.hex_digest();
}

// One listed file: verified (empty answer) or why it is missing or altered.
enum class Verdict { verified, missing, altered };
std::pair<Verdict, std::string> check_file(const fs::path& dir, const ManifestEntry& e) {
    if (through_symlink(dir, e.file)) return {Verdict::altered, "reached through a symbolic link"};
    // Not followed if a link, never waited on if a FIFO (safe_file.hpp).
    auto file = RegularFile::open((dir / e.file).string(), Links::refuse);
    if (!file) {
        if (file.error().code == Errc::not_found) return {Verdict::missing, ""};
        return {Verdict::altered, file.error().message};
    }
    const auto size = static_cast<std::int64_t>(file->status().st_size);
    if (size != e.bytes)
        return {Verdict::altered,
                std::to_string(size) + " bytes, manifest says " + std::to_string(e.bytes)};
    auto hash = sha256_of(*file);
    if (!hash) return {Verdict::altered, hash.error().message};
    if (*hash != e.sha256)
        return {Verdict::altered, "sha256 " + *hash + ", manifest says " + e.sha256};
    return {Verdict::verified, ""};
}

}  // namespace

Result<VerifyReport> verify_run_folder(const std::string& dir,
                                       const std::optional<std::string>& expected_digest) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        return Error{Errc::not_found, dir + ": not a run folder (no such directory)"};
    // The manifest is the folder's own file: a link could make a folder
    // "verify" against a manifest kept anywhere, a FIFO would block, a
    // device never end, a directory read as an empty manifest.
    const fs::path manifest_path = fs::path(dir) / kManifestFile;
    auto manifest = RegularFile::open(manifest_path.string(), Links::refuse);
    if (!manifest)
        return Error{manifest.error().code,
                     manifest_path.string() + ": " + manifest.error().message};

    VerifyReport report;
    std::map<std::string, ManifestEntry> listed;  // by file
    ChainCheck chain(report);
    auto read = for_each_line(*manifest, report, [&](std::size_t number, const std::string& line) {
        auto entry = parse_line(line);
        const std::string where = std::string(kManifestFile) + ":" + std::to_string(number) + ": ";
        const bool head = chain.line(number, line, entry ? &*entry : nullptr);
        if (!entry) {
            if (head) return;  // read by the chain check
            add_error(report, where + entry.error().message);
            return;
        }
        if (!listed.emplace(entry->file, *entry).second)
            add_error(report, where + "`file`: " + quote_value(entry->file) + " is listed twice");
    });
    if (!read) return std::move(read).error();
    chain.finish();
    if (expected_digest) report.digest_ok = report.digest == *expected_digest;

    for (const auto& [file, e] : listed) {
        auto [verdict, why] = check_file(dir, e);
        if (verdict == Verdict::verified)
            ++report.verified;
        else if (verdict == Verdict::missing)
            report.missing.push_back(name(file));
        else
            report.altered.push_back(name(file) + " (" + why + ")");
    }

    // Everything else in the folder, symbolic links included (never followed).
    fs::path base = fs::path(dir).lexically_normal();
    if (!base.has_filename()) base = base.parent_path();  // "run/" -> "run"
    for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
        const std::string rel = it->path().lexically_relative(base).generic_string();
        if (rel == kManifestFile || listed.count(rel)) continue;
        report.extra.push_back(name(rel));
    }
    if (ec) add_error(report, dir + ": " + ec.message());
    std::sort(report.extra.begin(), report.extra.end());
    return report;
}

}  // namespace lrsched::evidence
