// lrsched-sim's settings table: one row per setting gives its flag
// (`--submit-window`), its YAML key (`submit_window`), its type and range and
// its help line, so flags, the file and --help cannot drift apart.
#include "sim/model/sim_config.hpp"

#include "common/diagnostic.hpp"
#include "common/duration.hpp"
#include "common/text.hpp"
#include "common/yaml_reader.hpp"
#include "sim/model/sim_util.hpp"
#include "sim/model/tag_matcher.hpp"

#include <cmath>
#include <cstdlib>
#include <set>
#include <variant>

namespace lrsched::sim {
namespace {

using Member = std::variant<int SimConfig::*,
                            std::uint64_t SimConfig::*,
                            double SimConfig::*,
                            bool SimConfig::*,
                            std::string SimConfig::*,
                            std::vector<std::string> SimConfig::*,
                            std::optional<double> SimConfig::*>;

enum class Kind { integer, u64, seconds, fraction, boolean, string, list, instant };

struct Setting {
    const char* key;  // snake_case; the flag is the same in kebab-case
    Kind kind;
    Member member;
    double min = 0;
    double max = 0;
    const char* help = "";
    const char* flag = nullptr;  // when the flag is not the key in kebab-case
};

constexpr double kBig = 1e12;

// clang-format off
const Setting kSettings[] = {
    {"machines", Kind::integer, &SimConfig::machines, 0, 1'000'000, "fleet size when generated"},
    {"seed", Kind::u64, &SimConfig::seed, 0, 0, "seed of every deterministic choice"},
    {"port", Kind::integer, &SimConfig::port, 0, 65535, "TCP port on loopback (0: any)"},
    {"tenant", Kind::string, &SimConfig::tenant, 0, 0, "tenant id in the token path"},
    {"client_id", Kind::string, &SimConfig::client_id, 0, 0, "the accepted client id (required)"},
    {"client_secret", Kind::string, &SimConfig::client_secret, 0, 0, "the accepted secret (required unless --client-cert)"},
    {"client_certs", Kind::list, &SimConfig::client_certs, 0, 0, "PEM certificate registered on the app (repeat the flag; YAML: a list)", "--client-cert"},
    {"clock_offset", Kind::seconds, &SimConfig::clock_offset, -kBig, kBig, "added to the wall clock when checking assertion nbf/exp (may be negative)"},
    {"state_dir", Kind::string, &SimConfig::state_dir, 0, 0, "where the CA, certificate and ledger go"},
    {"wrong_host", Kind::boolean, &SimConfig::wrong_host, 0, 0, "serve a certificate for another host name"},
    {"cert", Kind::string, &SimConfig::cert_file, 0, 0, "server certificate file (PEM)"},
    {"key", Kind::string, &SimConfig::key_file, 0, 0, "server key file (PEM)"},
    {"ca", Kind::string, &SimConfig::ca_file, 0, 0, "CA file to write (or the one that signed --cert)"},
    {"token_lifetime", Kind::seconds, &SimConfig::token_lifetime, 0.001, kBig, "access token lifetime (3599)"},
    {"token_body", Kind::string, &SimConfig::token_body, 0, 0, "answer token requests with this body (@TOKEN@: the token)"},
    {"submit_calls", Kind::integer, &SimConfig::submit_calls, 1, 1'000'000, "runliveresponse calls per window (10)"},
    {"submit_window", Kind::seconds, &SimConfig::submit_window, 0.001, kBig, "sliding window of the submit rate (60s)"},
    {"concurrent_sessions", Kind::integer, &SimConfig::concurrent_sessions, 1, 1'000'000, "concurrent session cap (25)"},
    {"pending_counts_as_running", Kind::boolean, &SimConfig::pending_counts_as_running, 0, 0, "Pending actions count against the cap (true)"},
    {"read_calls", Kind::integer, &SimConfig::read_calls, 1, 1'000'000, "read calls per read window (100)"},
    {"read_window", Kind::seconds, &SimConfig::read_window, 0.001, kBig, "read window (60s)"},
    {"read_calls_long", Kind::integer, &SimConfig::read_calls_long, 1, 1'000'000, "read calls per long window (1500)"},
    {"read_window_long", Kind::seconds, &SimConfig::read_window_long, 0.001, kBig, "long read window (1h)"},
    {"queue_expiry", Kind::seconds, &SimConfig::queue_expiry, 0.001, kBig, "how long a Pending action waits for its machine (3d)"},
    {"runscript_timeout", Kind::seconds, &SimConfig::runscript_timeout, 0.001, kBig, "RunScript is killed after this (10m)"},
    {"pickup_delay", Kind::seconds, &SimConfig::pickup_delay, 0, kBig, "from machine reachable to InProgress (0)"},
    {"putfile_duration", Kind::seconds, &SimConfig::putfile_duration, 0, kBig, "PutFile run time (2s)"},
    {"runscript_duration", Kind::seconds, &SimConfig::runscript_duration, 0, kBig, "RunScript run time (5s)"},
    {"getfile_duration", Kind::seconds, &SimConfig::getfile_duration, 0, kBig, "GetFile run time (3s)"},
    {"runscript_fail_fraction", Kind::fraction, &SimConfig::runscript_fail_fraction, 0, 1, "RunScripts that fail (0)"},
    {"runscript_hang_fraction", Kind::fraction, &SimConfig::runscript_hang_fraction, 0, 1, "RunScripts that hang past the timeout (0)"},
    {"offline_fraction", Kind::fraction, &SimConfig::offline_fraction, 0, 1, "machines online only after a while (0.1)"},
    {"online_after_min", Kind::seconds, &SimConfig::online_after_min, 0, kBig, "their earliest online time (30s)"},
    {"online_after_max", Kind::seconds, &SimConfig::online_after_max, 0, kBig, "their latest online time (300s)"},
    {"never_online_fraction", Kind::fraction, &SimConfig::never_online_fraction, 0, 1, "machines never online (0.05)"},
    {"busy_fraction", Kind::fraction, &SimConfig::busy_fraction, 0, 1, "machines busy with a foreign session at start (0.05)"},
    {"busy_for_min", Kind::seconds, &SimConfig::busy_for_min, 0, kBig, "shortest foreign session (10s)"},
    {"busy_for_max", Kind::seconds, &SimConfig::busy_for_max, 0, kBig, "longest foreign session (120s)"},
    {"link_lifetime", Kind::seconds, &SimConfig::link_lifetime, 0.001, kBig, "result link lifetime (30m)"},
    {"visibility_lag", Kind::seconds, &SimConfig::visibility_lag, 0, kBig, "new actions invisible to reads for this long (0)"},
    {"odd_machines", Kind::u64, &SimConfig::odd_machines, 0, 1e9, "the first N generated machines' scripts print an extra line (0)"},
    {"getfile_size", Kind::u64, &SimConfig::getfile_size, 0, 4'000'000'000.0, "bytes of every GetFile result (4096)"},
    {"download_delay", Kind::seconds, &SimConfig::download_delay, 0, kBig, "every result download answers after this long (0)"},
    {"fault_http500", Kind::fraction, &SimConfig::fault_http500, 0, 1, "/api calls answered 500, nothing done"},
    {"fault_http503", Kind::fraction, &SimConfig::fault_http503, 0, 1, "/api calls answered 503, nothing done"},
    {"fault_reset", Kind::fraction, &SimConfig::fault_reset, 0, 1, "/api calls reset, nothing done"},
    {"fault_slow", Kind::fraction, &SimConfig::fault_slow, 0, 1, "/api calls answered after slow_seconds"},
    {"slow_seconds", Kind::seconds, &SimConfig::slow_seconds, 0, kBig, "delay of a slow answer (2s)"},
    {"fault_foreign_429", Kind::fraction, &SimConfig::fault_foreign_429, 0, 1, "/api calls answered 429 as if another client used the budget"},
    {"foreign_retry_after", Kind::seconds, &SimConfig::foreign_retry_after, 0, kBig, "Retry-After of those (10s)"},
    {"fault_created_but_lost", Kind::fraction, &SimConfig::fault_created_but_lost, 0, 1, "runliveresponse creates the action, then answers 500 or resets"},
    {"fault_truncate_download", Kind::fraction, &SimConfig::fault_truncate_download, 0, 1, "result downloads cut half-way"},
    {"fault_reset_download", Kind::fraction, &SimConfig::fault_reset_download, 0, 1, "result downloads reset before any answer"},
    {"fault_expire_link", Kind::fraction, &SimConfig::fault_expire_link, 0, 1, "result downloads answered 403 as if the link had expired"},
    {"fault_library_unavailable", Kind::integer, &SimConfig::fault_library_unavailable, 0, 1'000'000, "the first N library listings and the first N uploads answered 503"},
    {"fault_replay", Kind::integer, &SimConfig::fault_replay, 0, 1'000'000, "the first N client assertions that pass every check answered as replays (AADSTS50013), as if someone had used them first"},
    {"webhook_fail_first", Kind::integer, &SimConfig::webhook_fail_first, 0, 1'000'000, "the first N posts to each /hooks/<name> answered 500"},
    {"hostile_strings", Kind::boolean, &SimConfig::hostile_strings, 0, 0, "machine names, 4xx messages and token errors carry CR LF, ESC, NUL and forged fields"},
    {"long_names", Kind::u64, &SimConfig::long_names, 0, 1'000'000, "listed computerDnsNames padded to this many bytes (0: as is)"},
    {"tag_regex", Kind::string, &SimConfig::tag_regex, 0, 0, "correlation tag in a Comment (ECMAScript regex)"},
    {"ledger", Kind::string, &SimConfig::ledger, 0, 0, "JSON-lines ledger of actions and status changes"},
    {"library", Kind::list, &SimConfig::library, 0, 0, "library file preloaded (repeat the flag; YAML: a list)"},
    {"machines_file", Kind::string, &SimConfig::machines_file, 0, 0, "JSON array of machines instead of a generated fleet"},
    {"start_time", Kind::instant, &SimConfig::start_time, 0, 0, "UTC instant that sim time 0 stands for (ISO or Unix seconds)"},
};
// clang-format on

const Setting* find_setting(std::string_view key) {
    for (const auto& s : kSettings)
        if (key == s.key) return &s;
    return nullptr;
}

std::string flag_of(const Setting& s) {
    if (s.flag != nullptr) return s.flag;
    std::string f = "--" + std::string(s.key);
    for (char& ch : f)
        if (ch == '_') ch = '-';
    return f;
}

const Setting* find_flag(std::string_view flag) {
    for (const auto& s : kSettings)
        if (flag == flag_of(s)) return &s;
    return nullptr;
}

// Plain decimal seconds ("2.5") or a unit duration ("250ms", "3d").
std::optional<double> parse_seconds(std::string_view text) {
    if (auto d = parse_duration(text)) return static_cast<double>(d->count()) / 1000.0;
    if (text.empty() || text.size() > 30) return std::nullopt;
    int dots = 0;
    for (char c : text) {
        if (c == '.')
            ++dots;
        else if (c < '0' || c > '9')
            return std::nullopt;
    }
    if (dots > 1 || text == ".") return std::nullopt;
    const std::string owned(text);
    const double v = std::strtod(owned.c_str(), nullptr);
    if (!std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<double> parse_number(std::string_view text, bool integral) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (!integral && c == '.'))) return std::nullopt;
    return parse_seconds(text);
}

// Applies one textual value; returns an error message or nullopt.
std::optional<std::string> apply(SimConfig& c, const Setting& s, std::string_view text) {
    const std::string range = " from " + std::to_string(static_cast<long long>(s.min)) + " to " +
                              std::to_string(static_cast<long long>(s.max));
    switch (s.kind) {
        case Kind::integer: {
            auto v = parse_number(text, true);
            if (!v || *v < s.min || *v > s.max)
                return "expected a whole number" + range + ", found " + quote_value(text);
            c.*std::get<int SimConfig::*>(s.member) = static_cast<int>(*v);
            return std::nullopt;
        }
        case Kind::u64: {
            if (text.empty() || text.size() > 19 ||
                text.find_first_not_of("0123456789") != std::string_view::npos)
                return "expected a whole number, found " + quote_value(text);
            const auto v = std::strtoull(std::string(text).c_str(), nullptr, 10);
            if (s.max > 0 && static_cast<double>(v) > s.max)
                return "expected at most " + std::to_string(static_cast<long long>(s.max));
            c.*std::get<std::uint64_t SimConfig::*>(s.member) = v;
            return std::nullopt;
        }
        case Kind::seconds: {
            // Only a setting whose range allows it takes a sign (clock_offset).
            const bool negative = s.min < 0 && !text.empty() && text.front() == '-';
            auto v = parse_seconds(negative ? text.substr(1) : text);
            if (v && negative) *v = -*v;
            if (!v || *v < s.min || *v > s.max)
                return "expected a duration such as 2.5, 250ms, 30s, 10m, 6h or 3d" +
                       std::string(s.min > 0 ? " (more than 0)" : "") + ", found " +
                       quote_value(text);
            c.*std::get<double SimConfig::*>(s.member) = *v;
            return std::nullopt;
        }
        case Kind::fraction: {
            auto v = parse_number(text, false);
            if (!v || *v < 0 || *v > 1)
                return "expected a fraction from 0 to 1, found " + quote_value(text);
            c.*std::get<double SimConfig::*>(s.member) = *v;
            return std::nullopt;
        }
        case Kind::boolean:
            if (text != "true" && text != "false")
                return "expected true or false, found " + quote_value(text);
            c.*std::get<bool SimConfig::*>(s.member) = text == "true";
            return std::nullopt;
        case Kind::string:
            if (has_control_chars(text, false)) return "control characters are not allowed";
            c.*std::get<std::string SimConfig::*>(s.member) = std::string(text);
            return std::nullopt;
        case Kind::list:
            if (has_control_chars(text, false)) return "control characters are not allowed";
            if (!text.empty())
                (c.*std::get<std::vector<std::string> SimConfig::*>(s.member)).emplace_back(text);
            return std::nullopt;
        case Kind::instant: {
            if (auto t = parse_iso_time(text)) {
                c.*std::get<std::optional<double> SimConfig::*>(s.member) =
                    static_cast<double>(*t) / static_cast<double>(kTicksPerSecond);
                return std::nullopt;
            }
            auto v = parse_number(text, false);
            if (!v) return "expected an ISO UTC time or Unix seconds, found " + quote_value(text);
            c.*std::get<std::optional<double> SimConfig::*>(s.member) = *v;
            return std::nullopt;
        }
    }
    return "unhandled setting";
}

Error config_error(std::string message) {
    return Error(Errc::invalid_input, std::move(message));
}

}  // namespace

std::string sim_help() {
    std::string out =
        "usage: lrsched-sim --machines N --seed S --port 0 --client-id ID\n"
        "                   (--client-secret SECRET | --client-cert FILE...)\n"
        "                   [--config FILE] [--state-dir DIR] [--SETTING VALUE]...\n"
        "Durations: seconds (2.5) or 250ms, 30s, 10m, 6h, 3d. Booleans: --flag or "
        "--flag=false.\nThe YAML --config takes the same settings in snake_case; flags win.\n\n";
    for (const auto& s : kSettings) {
        std::string flag = flag_of(s);
        flag.resize(std::max<std::size_t>(flag.size(), 30), ' ');
        out += "  " + flag + " " + s.help + "\n";
    }
    out += "  --config FILE                  YAML file of settings\n";
    out += "  --help                         this text\n";
    return out;
}

Result<void> apply_sim_yaml(std::string_view text, const std::string& file, SimConfig& config) {
    Diagnostics diags;
    constexpr YamlLimits kLimits{1u << 20, 8, 100'000};
    auto root = load_yaml(text, file, kLimits, diags);
    if (root && root->IsNull()) return ok();  // an empty file sets nothing
    if (root && !root->IsMap())
        diags.error(location_of(file, *root), "expected a mapping of settings");
    if (root && root->IsMap()) {
        std::set<std::string> seen;
        for (const auto& kv : *root) {
            const Location where = location_of(file, kv.first);
            const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
            const Setting* s = find_setting(key);
            if (s == nullptr) {
                diags.error(where,
                            "unknown key " + quote_value(key) +
                                " (see lrsched-sim --help; keys are the flags in snake_case)");
                continue;
            }
            if (!seen.insert(key).second) {
                diags.error(where, "duplicate key " + quote_value(key));
                continue;
            }
            const YAML::Node& v = kv.second;
            if (s->kind == Kind::list) {
                auto items = read_string_list(file, v, key, diags);
                if (!items) continue;
                (config.*std::get<std::vector<std::string> SimConfig::*>(s->member)).clear();
                for (const auto& item : *items)
                    if (auto err = apply(config, *s, item.value))
                        diags.error(item.where, key + ": " + *err);
                continue;
            }
            if (!v.IsScalar()) {
                diags.error(location_of(file, v), key + ": expected a single value");
                continue;
            }
            if (auto err = apply(config, *s, v.Scalar()))
                diags.error(location_of(file, v), key + ": " + *err);
        }
    }
    if (diags.has_errors()) return config_error(diags.to_string());
    return ok();
}

Result<SimConfig> parse_sim_args(const std::vector<std::string>& args) {
    SimConfig c;
    // The file first, so that every flag overrides it.
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            c.help = true;
            return c;
        }
        if (args[i] == "--config" && i + 1 < args.size()) c.config_file = args[i + 1];
        if (args[i].rfind("--config=", 0) == 0) c.config_file = args[i].substr(9);
    }
    // The contract requires both; no default may stand in for them.
    c.client_id.clear();
    c.client_secret.clear();
    if (!c.config_file.empty()) {
        Diagnostics diags;
        auto text = read_text_file(c.config_file, 1u << 20, diags);
        if (!text) return config_error(diags.to_string());
        if (auto r = apply_sim_yaml(*text, c.config_file, c); !r) return std::move(r).error();
    }
    std::set<const Setting*> lists_cleared;  // a list flag replaces the file's list
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) return config_error("unexpected argument " + quote_value(a));
        const auto eq = a.find('=');
        const std::string flag = a.substr(0, eq);
        if (flag == "--config") {
            if (eq == std::string::npos) ++i;
            continue;
        }
        const Setting* s = find_flag(flag);
        if (s == nullptr)
            return config_error("unknown option " + quote_value(flag) + " (see --help)");
        std::string value;
        if (eq != std::string::npos) {
            value = a.substr(eq + 1);
        } else if (s->kind == Kind::boolean) {
            value = "true";
        } else {
            if (i + 1 >= args.size()) return config_error(flag + ": needs a value");
            value = args[++i];
        }
        if (s->kind == Kind::list && lists_cleared.insert(s).second)
            (c.*std::get<std::vector<std::string> SimConfig::*>(s->member)).clear();
        if (auto err = apply(c, *s, value)) return config_error(flag + ": " + *err);
    }
    if (c.client_id.empty() || (c.client_secret.empty() && c.client_certs.empty()))
        return config_error("--client-id and --client-secret (or --client-cert) are required");
    if (auto r = validate_sim_config(c); !r) return std::move(r).error();
    return c;
}

Result<void> validate_sim_config(const SimConfig& c) {
    if (c.client_id.empty() || (c.client_secret.empty() && c.client_certs.empty()))
        return config_error("client_id and client_secret (or client_certs) must not be empty");
    if (c.tenant.empty() || c.tenant.size() > 256 ||
        c.tenant.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            std::string::npos)
        return config_error("tenant: expected a GUID or a domain name");
    if (c.offline_fraction + c.never_online_fraction + c.busy_fraction > 1.0 + 1e-9)
        return config_error("offline_fraction + never_online_fraction + busy_fraction exceed 1");
    if (c.runscript_fail_fraction + c.runscript_hang_fraction > 1.0 + 1e-9)
        return config_error("runscript_fail_fraction + runscript_hang_fraction exceed 1");
    if (c.online_after_min > c.online_after_max)
        return config_error("online_after_min is larger than online_after_max");
    if (c.busy_for_min > c.busy_for_max)
        return config_error("busy_for_min is larger than busy_for_max");
    for (const auto& name : c.library)
        if (name.empty() || name.size() > 255 ||
            name.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                std::string::npos)
            return config_error("library: " + quote_value(name) +
                                " is not a library file name (letters, digits, '-', '_', '.')");
    if (auto why = check_tag_regex(c.tag_regex); !why.empty())
        return config_error("tag_regex: " + why);
    return ok();
}

}  // namespace lrsched::sim
