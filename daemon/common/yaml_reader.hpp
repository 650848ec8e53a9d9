// Bounded YAML loading and typed field readers for operator-written files.
//
// yaml-cpp shares an anchored node between its aliases, so a "billion laughs"
// file parses quickly and explodes in whoever walks the tree. We walk the
// event stream first (common/yaml_guard.hpp) and refuse, before any tree is
// built, a file whose size, nesting depth, node count or text *after alias
// expansion* passes a cap, or whose scan would run too far ahead; the walk
// that follows is then bounded too. Readers report every problem into a
// Diagnostics with file:line:col and keep going.
#pragma once

#include "common/diagnostic.hpp"
#include "common/duration.hpp"
#include "common/yaml_guard.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrsched {

// Parses `text` (one document) as `file`. On failure the diagnostic names the
// cap that was hit or yaml-cpp's syntax error, with its position.
std::optional<YAML::Node> load_yaml(std::string_view text,
                                    const std::string& file,
                                    const YamlLimits& limits,
                                    Diagnostics& diags);

// Reads a whole file, refusing one larger than max_bytes without reading it.
std::optional<std::string> read_text_file(const std::string& path,
                                          std::size_t max_bytes,
                                          Diagnostics& diags);

Location location_of(const std::string& file, const YAML::Node& node);

// A mapping whose keys were checked: not a mapping, unknown keys and duplicate
// keys are reported once, at construction.
class MapView {
  public:
    MapView(const std::string& file,
            const YAML::Node& node,
            std::string name,  // "targets.exclude": used in messages
            std::initializer_list<std::string_view> allowed,
            Diagnostics& diags);

    bool valid() const noexcept { return valid_; }
    // The value under `key`, or nullopt when absent.
    std::optional<YAML::Node> get(std::string_view key) const;
    std::string field(std::string_view key) const;  // "name.key" for messages
    const std::string& file() const noexcept { return file_; }
    const YAML::Node& node() const noexcept { return node_; }

  private:
    std::string file_;
    YAML::Node node_;
    std::string name_;
    std::vector<std::pair<std::string, YAML::Node>> fields_;
    bool valid_ = false;
};

// Typed readers: each returns nullopt after reporting a wrong type or value
// against `field` (a dotted name), at the value's position.
std::optional<std::string> read_string(const std::string& file,
                                       const YAML::Node& value,
                                       const std::string& field,
                                       Diagnostics& diags);
std::optional<std::int64_t> read_int(const std::string& file,
                                     const YAML::Node& value,
                                     const std::string& field,
                                     std::int64_t min,
                                     std::int64_t max,
                                     Diagnostics& diags);
std::optional<bool> read_bool(const std::string& file,
                              const YAML::Node& value,
                              const std::string& field,
                              Diagnostics& diags);
std::optional<Duration> read_duration(const std::string& file,
                                      const YAML::Node& value,
                                      const std::string& field,
                                      Diagnostics& diags);
// A size such as 500MB or 4GiB (common/byte_size.hpp), more than zero.
std::optional<std::uint64_t> read_byte_size(const std::string& file,
                                            const YAML::Node& value,
                                            const std::string& field,
                                            Diagnostics& diags);

struct LocatedString {
    std::string value;
    Location where;
};
// A sequence of scalars (a lone scalar is refused: `tags: tier0` is more
// likely a mistake than a one-element list in a file that decides targets).
std::optional<std::vector<LocatedString>> read_string_list(const std::string& file,
                                                           const YAML::Node& value,
                                                           const std::string& field,
                                                           Diagnostics& diags);

}  // namespace lrsched
