#include "common/yaml_reader.hpp"

#include "common/byte_size.hpp"
#include "common/safe_file.hpp"
#include "common/yaml_guard.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <sys/stat.h>

namespace lrsched {
namespace {

Location at(const std::string& file, const YAML::Mark& mark) {
    if (mark.is_null()) return {file, 1, 1};  // a node made up by yaml-cpp: the whole file
    return {file, mark.line + 1, mark.column + 1};
}

std::string what_is(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Scalar:
            return quote_value(node.Scalar());
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

}  // namespace

Location location_of(const std::string& file, const YAML::Node& node) {
    return at(file, node.Mark());
}

std::optional<std::string> read_text_file(const std::string& path,
                                          std::size_t max_bytes,
                                          Diagnostics& diags) {
    // Links are followed (operators symlink /etc files), but what they lead
    // to must be a regular file: a FIFO would block, a device never end.
    auto text = read_regular_file(path, max_bytes, Links::follow);
    if (!text) {
        diags.error({path, 0, 0}, text.error().message);
        return std::nullopt;
    }
    return std::move(*text);
}

std::optional<YAML::Node> load_yaml(std::string_view text,
                                    const std::string& file,
                                    const YamlLimits& limits,
                                    Diagnostics& diags) {
    if (text.size() > limits.max_bytes) {
        diags.error({file, 1, 1}, "file is " + std::to_string(text.size()) +
                                      " bytes, over the size cap of " +
                                      std::to_string(limits.max_bytes) + " bytes");
        return std::nullopt;
    }
    // yaml-cpp skips a byte order mark and counts columns after it, as an
    // editor shows them; so do the checks before it.
    if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);
    if (!check_text(text, file, diags)) return std::nullopt;
    if (!check_yaml_events(text, file, limits, diags)) return std::nullopt;
    try {
        TextBuf buf(text);
        std::istream in(&buf);
        return YAML::Load(in);
    } catch (const YAML::Exception& e) {
        // The event pass parsed this very text: only memory can fail here.
        diags.error(at(file, e.mark), "YAML syntax: " + e.msg);
    }
    return std::nullopt;
}

MapView::MapView(const std::string& file,
                 const YAML::Node& node,
                 std::string name,
                 std::initializer_list<std::string_view> allowed,
                 Diagnostics& diags)
    : file_(file), node_(node), name_(std::move(name)) {
    if (!node.IsMap()) {
        diags.error(location_of(file, node),
                    name_ + ": expected a mapping of keys, found " + what_is(node));
        return;
    }
    valid_ = true;
    for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
            diags.error(location_of(file, kv.first), name_ + ": keys must be plain names");
            continue;
        }
        const std::string& key = kv.first.Scalar();
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            std::string expected;
            for (auto a : allowed)
                expected += (expected.empty() ? "" : ", ") + std::string(a);
            diags.error(location_of(file, kv.first), "unknown key " + quote_value(key) + " in " +
                                                         name_ + " (expected one of: " + expected +
                                                         ")");
            continue;
        }
        const bool dup = std::any_of(fields_.begin(), fields_.end(),
                                     [&](const auto& f) { return f.first == key; });
        if (dup) {
            diags.error(location_of(file, kv.first),
                        "duplicate key " + quote_value(key) + " in " + name_);
            continue;
        }
        fields_.emplace_back(key, kv.second);
    }
}

std::optional<YAML::Node> MapView::get(std::string_view key) const {
    for (const auto& f : fields_)
        if (f.first == key) return f.second;
    return std::nullopt;
}

std::string MapView::field(std::string_view key) const {
    return name_.empty() ? std::string(key) : name_ + "." + std::string(key);
}

std::optional<std::string> read_string(const std::string& file,
                                       const YAML::Node& value,
                                       const std::string& field,
                                       Diagnostics& diags) {
    if (!value.IsScalar()) {
        diags.error(location_of(file, value),
                    field + ": expected a string, found " + what_is(value));
        return std::nullopt;
    }
    return value.Scalar();
}

std::optional<std::int64_t> read_int(const std::string& file,
                                     const YAML::Node& value,
                                     const std::string& field,
                                     std::int64_t min,
                                     std::int64_t max,
                                     Diagnostics& diags) {
    const std::string range = " from " + std::to_string(min) + " to " + std::to_string(max);
    if (!value.IsScalar()) {
        diags.error(location_of(file, value),
                    field + ": expected a whole number" + range + ", found " + what_is(value));
        return std::nullopt;
    }
    const std::string& s = value.Scalar();
    std::int64_t n = 0;
    std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    bool ok = i < s.size() && s.size() - i <= 18;
    for (std::size_t j = i; ok && j < s.size(); ++j) {
        if (s[j] < '0' || s[j] > '9')
            ok = false;
        else
            n = n * 10 + (s[j] - '0');
    }
    if (i == 1) n = -n;
    if (!ok || n < min || n > max) {
        diags.error(location_of(file, value),
                    field + ": expected a whole number" + range + ", found " + what_is(value));
        return std::nullopt;
    }
    return n;
}

std::optional<bool> read_bool(const std::string& file,
                              const YAML::Node& value,
                              const std::string& field,
                              Diagnostics& diags) {
    if (value.IsScalar()) {
        if (value.Scalar() == "true") return true;
        if (value.Scalar() == "false") return false;
    }
    diags.error(location_of(file, value),
                field + ": expected true or false, found " + what_is(value));
    return std::nullopt;
}

std::optional<Duration> read_duration(const std::string& file,
                                      const YAML::Node& value,
                                      const std::string& field,
                                      Diagnostics& diags) {
    if (value.IsScalar()) {
        if (auto d = parse_duration(value.Scalar())) return d;
    }
    diags.error(
        location_of(file, value),
        field + ": expected a duration such as 250ms, 30s, 10m, 6h or 3d, found " + what_is(value));
    return std::nullopt;
}

std::optional<std::uint64_t> read_byte_size(const std::string& file,
                                            const YAML::Node& value,
                                            const std::string& field,
                                            Diagnostics& diags) {
    if (value.IsScalar()) {
        if (auto n = parse_byte_size(value.Scalar()); n && *n > 0) return n;
    }
    diags.error(location_of(file, value),
                field +
                    ": expected a size such as 500MB or 4GiB (B, KB, MB, GB, TB or KiB, "
                    "MiB, GiB, TiB), found " +
                    what_is(value));
    return std::nullopt;
}

std::optional<std::vector<LocatedString>> read_string_list(const std::string& file,
                                                           const YAML::Node& value,
                                                           const std::string& field,
                                                           Diagnostics& diags) {
    if (!value.IsSequence()) {
        diags.error(location_of(file, value),
                    field + ": expected a list such as [a, b], found " + what_is(value));
        return std::nullopt;
    }
    std::vector<LocatedString> out;
    bool ok = true;
    for (const auto& item : value) {
        if (!item.IsScalar()) {
            diags.error(location_of(file, item),
                        field + ": list items must be strings, found " + what_is(item));
            ok = false;
            continue;
        }
        out.push_back({item.Scalar(), location_of(file, item)});
    }
    if (!ok) return std::nullopt;
    return out;
}

}  // namespace lrsched
