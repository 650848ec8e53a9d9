// The documented OData `$filter` subset, parsed once per request and
// evaluated against JSON entities: `field eq|ne 'v'`, datetime fields with
// eq|ne|gt|ge|lt|le and an unquoted literal, `tags/any(t: t eq 'v')`, `and`,
// parentheses. Nothing else (no `or`, `not`, `in`, functions): 400 ODataError.
// Input is capped (length, tokens, nesting) and parsed without recursion.
#pragma once

#include "sim/model/sim_util.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lrsched::sim {

enum class FieldType { string, datetime, string_list };

struct FieldSpec {
    std::string_view name;  // the entity's JSON key; matched case-insensitively
    FieldType type;
};

inline constexpr FieldSpec kMachineFields[] = {
    {"computerDnsName", FieldType::string}, {"id", FieldType::string},
    {"healthStatus", FieldType::string},    {"osPlatform", FieldType::string},
    {"rbacGroupName", FieldType::string},   {"machineTags", FieldType::string_list},
    {"lastSeen", FieldType::datetime}};

inline constexpr FieldSpec kActionFields[] = {
    {"id", FieldType::string},        {"status", FieldType::string},
    {"machineId", FieldType::string}, {"type", FieldType::string},
    {"requestor", FieldType::string}, {"creationDateTimeUtc", FieldType::datetime}};

inline constexpr std::size_t kMaxFilterLength = 2048;

enum class CompareOp { eq, ne, gt, ge, lt, le };

struct Predicate {
    std::string field;  // canonical name
    FieldType type = FieldType::string;
    CompareOp op = CompareOp::eq;
    std::string text;  // string literal (any: the tag)
    Ticks time = 0;    // datetime literal
};

// A conjunction: without `or` and `not`, parentheses only group.
class Filter {
  public:
    bool matches(const nlohmann::json& entity) const;
    const std::vector<Predicate>& predicates() const noexcept { return preds_; }

  private:
    friend struct FilterParser;
    std::vector<Predicate> preds_;
};

struct FilterResult {
    Filter filter;
    std::string error;  // non-empty: the message of a 400 ODataError
};

FilterResult parse_filter(std::string_view text, std::span<const FieldSpec> fields);

inline constexpr std::size_t kMaxTop = 10'000;

// The query options of a collection GET: $filter, $top (<= 10,000), $skip.
// Any other option, a duplicate, or a bad value sets `error` (400 ODataError).
struct QueryOptions {
    Filter filter;
    std::string raw_filter;  // as decoded, for @odata.nextLink
    std::optional<std::size_t> top;
    std::size_t skip = 0;
    std::string error;
};

QueryOptions parse_query_options(std::string_view query, std::span<const FieldSpec> fields);

}  // namespace lrsched::sim
