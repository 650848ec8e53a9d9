// The $filter tokenizer, parser (iterative, capped) and evaluator, and the
// $top/$skip options of collection GETs (see odata.hpp).
#include "sim/model/odata.hpp"

#include "common/diagnostic.hpp"

namespace lrsched::sim {

namespace {

enum class Tok { ident, string, literal, lparen, rparen, slash, colon, comma, end };

struct Token {
    Tok kind;
    std::string text;
    std::size_t pos;
};

constexpr std::size_t kMaxTokens = 512;
constexpr int kMaxDepth = 32;

bool ident_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

// Splits into tokens; returns an error message or empty.
std::string tokenize(std::string_view s, std::vector<Token>& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == ' ' || c == '\t') {
            ++i;
            continue;
        }
        if (out.size() >= kMaxTokens) return "$filter has too many terms";
        const std::size_t start = i;
        if (c == '(' || c == ')' || c == '/' || c == ':' || c == ',') {
            out.push_back({c == '('   ? Tok::lparen
                           : c == ')' ? Tok::rparen
                           : c == '/' ? Tok::slash
                           : c == ':' ? Tok::colon
                                      : Tok::comma,
                           std::string(1, c), start});
            ++i;
        } else if (c == '\'') {
            std::string text;
            ++i;
            for (;;) {
                if (i >= s.size())
                    return "unterminated string literal at position " + std::to_string(start);
                if (s[i] == '\'') {
                    if (i + 1 < s.size() && s[i + 1] == '\'') {
                        text += '\'';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                text += s[i++];
            }
            out.push_back({Tok::string, std::move(text), start});
        } else if (ident_char(c, true)) {
            while (i < s.size() && ident_char(s[i], false))
                ++i;
            out.push_back({Tok::ident, std::string(s.substr(start, i - start)), start});
        } else if (c >= '0' && c <= '9') {
            while (i < s.size() && (ident_char(s[i], false) || s[i] == ':' || s[i] == '.' ||
                                    s[i] == '-' || s[i] == '+'))
                ++i;
            out.push_back({Tok::literal, std::string(s.substr(start, i - start)), start});
        } else {
            return "unexpected character " + quote_value(std::string_view(&s[i], 1)) +
                   " at position " + std::to_string(i);
        }
    }
    out.push_back({Tok::end, "", s.size()});
    return {};
}

std::optional<CompareOp> op_of(std::string_view s) {
    if (s == "eq") return CompareOp::eq;
    if (s == "ne") return CompareOp::ne;
    if (s == "gt") return CompareOp::gt;
    if (s == "ge") return CompareOp::ge;
    if (s == "lt") return CompareOp::lt;
    if (s == "le") return CompareOp::le;
    return std::nullopt;
}

const nlohmann::json* field_of(const nlohmann::json& entity, std::string_view name) {
    const auto it = entity.find(std::string(name));
    return it == entity.end() ? nullptr : &*it;
}

}  // namespace

struct FilterParser {
    std::vector<Token> toks;
    std::size_t at = 0;
    std::span<const FieldSpec> fields;
    Filter filter;

    const Token& peek() const { return toks[at]; }
    std::string where() const { return " at position " + std::to_string(peek().pos); }

    std::string expect(Tok kind, const char* what) {
        if (peek().kind != kind) return std::string("expected ") + what + where();
        ++at;
        return {};
    }

    std::string parse_predicate() {
        if (peek().kind != Tok::ident) return "expected a property name" + where();
        const Token name = toks[at++];
        const FieldSpec* spec = nullptr;
        for (const auto& f : fields)
            if (iequals(f.name, name.text)) spec = &f;
        if (spec == nullptr)
            return "property " + quote_value(name.text) + " is not supported in $filter";
        Predicate p;
        p.field = std::string(spec->name);
        p.type = spec->type;
        if (peek().kind == Tok::slash) {
            ++at;
            if (spec->type != FieldType::string_list)
                return "any() needs a collection property, not " + quote_value(name.text);
            if (peek().kind != Tok::ident || peek().text != "any") return "expected any" + where();
            ++at;
            if (auto e = expect(Tok::lparen, "'('"); !e.empty()) return e;
            if (peek().kind != Tok::ident) return "expected a range variable" + where();
            const std::string var = toks[at++].text;
            if (auto e = expect(Tok::colon, "':'"); !e.empty()) return e;
            if (peek().kind != Tok::ident || peek().text != var)
                return "expected the range variable " + quote_value(var) + where();
            ++at;
            if (peek().kind != Tok::ident || peek().text != "eq")
                return "only 'eq' is supported inside any()" + where();
            ++at;
            if (peek().kind != Tok::string) return "expected a quoted string" + where();
            p.text = toks[at++].text;
            if (auto e = expect(Tok::rparen, "')'"); !e.empty()) return e;
            filter.preds_.push_back(std::move(p));
            return {};
        }
        if (spec->type == FieldType::string_list)
            return quote_value(name.text) + " is a collection: use " + std::string(spec->name) +
                   "/any(t: t eq 'value')";
        if (peek().kind != Tok::ident) return "expected an operator" + where();
        const auto op = op_of(peek().text);
        if (!op) return "operator " + quote_value(peek().text) + " is not supported" + where();
        ++at;
        p.op = *op;
        if (spec->type == FieldType::string) {
            if (*op != CompareOp::eq && *op != CompareOp::ne)
                return "only eq and ne apply to " + quote_value(name.text);
            if (peek().kind != Tok::string) return "expected a quoted string" + where();
            p.text = toks[at++].text;
        } else {
            if (peek().kind != Tok::literal)
                return "expected an unquoted UTC datetime such as 2024-01-01T00:00:00Z" + where();
            const auto t = parse_iso_time(peek().text);
            if (!t) return "bad datetime literal " + quote_value(peek().text) + where();
            ++at;
            p.time = *t;
        }
        filter.preds_.push_back(std::move(p));
        return {};
    }

    // term (and term)*, with parentheses tracked by a counter: no recursion.
    std::string parse() {
        int depth = 0;
        for (;;) {
            while (peek().kind == Tok::lparen) {
                if (++depth > kMaxDepth) return "parentheses nested too deeply";
                ++at;
            }
            if (auto e = parse_predicate(); !e.empty()) return e;
            while (peek().kind == Tok::rparen) {
                if (--depth < 0) return "unbalanced ')'" + where();
                ++at;
            }
            if (peek().kind == Tok::end) break;
            if (peek().kind == Tok::ident && peek().text == "and") {
                ++at;
                continue;
            }
            if (peek().kind == Tok::ident && (peek().text == "or" || peek().text == "not"))
                return "'" + peek().text + "' is not supported; only 'and' combines terms";
            return "expected 'and' or the end of $filter" + where();
        }
        if (depth != 0) return "unbalanced '('";
        return {};
    }
};

FilterResult parse_filter(std::string_view text, std::span<const FieldSpec> fields) {
    FilterResult r;
    if (text.size() > kMaxFilterLength) {
        r.error = "$filter is longer than " + std::to_string(kMaxFilterLength) + " characters";
        return r;
    }
    FilterParser p;
    p.fields = fields;
    r.error = tokenize(text, p.toks);
    if (r.error.empty() && p.toks.size() == 1) r.error = "$filter is empty";
    if (r.error.empty()) r.error = p.parse();
    if (r.error.empty()) r.filter = std::move(p.filter);
    return r;
}

QueryOptions parse_query_options(std::string_view query, std::span<const FieldSpec> fields) {
    QueryOptions q;
    if (query.size() > kMaxFilterLength * 3 + 64) {
        q.error = "The query string is too long";
        return q;
    }
    const auto params = parse_params(query);
    if (!params) {
        q.error = "The query string is not correctly encoded";
        return q;
    }
    bool seen_filter = false, seen_top = false, seen_skip = false;
    auto number = [](const std::string& v, std::size_t& out) {
        if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
            return false;
        out = static_cast<std::size_t>(std::stoul(v));
        return true;
    };
    for (const auto& [k, v] : *params) {
        bool& seen = k == "$filter" ? seen_filter : k == "$top" ? seen_top : seen_skip;
        if (k != "$filter" && k != "$top" && k != "$skip") {
            q.error = "The query parameter " + quote_value(k) + " is not supported";
            return q;
        }
        if (seen) {
            q.error = "The query parameter " + k + " is given more than once";
            return q;
        }
        seen = true;
        if (k == "$filter") {
            auto f = parse_filter(v, fields);
            if (!f.error.empty()) {
                q.error = "Invalid filter clause: " + f.error;
                return q;
            }
            q.filter = std::move(f.filter);
            q.raw_filter = v;
        } else if (k == "$top") {
            std::size_t top = 0;
            if (!number(v, top)) {
                q.error = "Invalid value for $top: " + quote_value(v);
                return q;
            }
            if (top > kMaxTop) {
                q.error =
                    "The limit of '10000' for Top query has been exceeded. The value from "
                    "the incoming request is '" +
                    v + "'.";
                return q;
            }
            q.top = top;
        } else if (!number(v, q.skip)) {
            q.error = "Invalid value for $skip: " + quote_value(v);
            return q;
        }
    }
    return q;
}

bool Filter::matches(const nlohmann::json& entity) const {
    for (const auto& p : preds_) {
        const nlohmann::json* v = field_of(entity, p.field);
        bool ok = false;
        switch (p.type) {
            case FieldType::string_list:
                if (v != nullptr && v->is_array())
                    for (const auto& item : *v)
                        if (item.is_string() && iequals(item.get_ref<const std::string&>(), p.text))
                            ok = true;
                break;
            case FieldType::string: {
                // MDE compares these case-insensitively (SQL collation); so do we.
                const bool eq = v != nullptr && v->is_string() &&
                                iequals(v->get_ref<const std::string&>(), p.text);
                ok = p.op == CompareOp::eq ? eq : !eq;
                break;
            }
            case FieldType::datetime: {
                std::optional<Ticks> t;
                if (v != nullptr && v->is_string())
                    t = parse_iso_time(v->get_ref<const std::string&>());
                if (!t) {
                    ok = p.op == CompareOp::ne;
                    break;
                }
                switch (p.op) {
                    case CompareOp::eq:
                        ok = *t == p.time;
                        break;
                    case CompareOp::ne:
                        ok = *t != p.time;
                        break;
                    case CompareOp::gt:
                        ok = *t > p.time;
                        break;
                    case CompareOp::ge:
                        ok = *t >= p.time;
                        break;
                    case CompareOp::lt:
                        ok = *t < p.time;
                        break;
                    case CompareOp::le:
                        ok = *t <= p.time;
                        break;
                }
                break;
            }
        }
        if (!ok) return false;
    }
    return true;
}

}  // namespace lrsched::sim
