#include "config/config.hpp"

#include "common/safe_file.hpp"
#include "common/text.hpp"
#include "common/yaml_reader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace lrsched::config {
namespace {

namespace fs = std::filesystem;

constexpr YamlLimits kConfigLimits{std::size_t{256} * 1024, 16, 20'000};
constexpr std::size_t kMaxSecretBytes = std::size_t{64} * 1024;
constexpr std::uint64_t kMaxFileSize = EvidenceConfig{}.max_file_size;

// Resolves a path written in the configuration against the file's directory.
std::string resolve(const fs::path& base_dir, const std::string& p) {
    if (p.empty()) return p;
    const fs::path path(p);
    return (path.is_absolute() ? path : base_dir / path).lexically_normal().string();
}

class Parser {
  public:
    Parser(const std::string& file, Diagnostics& diags)
        : file_(file), diags_(diags), dir_(fs::absolute(fs::path(file)).parent_path()) {}

    std::optional<Config> parse(const YAML::Node& root);

  private:
    void path_field(const MapView& m, std::string_view key, std::string& out) {
        if (auto v = m.get(key))
            if (auto s = read_string(file_, *v, m.field(key), diags_)) {
                if (has_control_chars(*s)) {
                    diags_.error(location_of(file_, *v),
                                 m.field(key) + ": control characters in a path");
                    return;
                }
                out = resolve(dir_, *s);
            }
    }
    void parse_log(const YAML::Node& n, LogConfig& log);
    void parse_control(const YAML::Node& n, ControlConfig& control);
    void parse_metrics(const YAML::Node& n, std::string& listen);
    void parse_evidence(const YAML::Node& n, EvidenceConfig& evidence);
    std::optional<Rate> parse_rate(const YAML::Node& n, const std::string& name);
    void parse_limits(const YAML::Node& n, const std::string& name, Limits& limits);
    std::optional<Tenant> parse_tenant(const YAML::Node& n, const std::string& name);
    void url_field(const MapView& m, std::string_view key, std::string& out);

    const std::string& file_;
    Diagnostics& diags_;
    fs::path dir_;
};

void Parser::parse_log(const YAML::Node& n, LogConfig& log) {
    const MapView m(file_, n, "log", {"level", "format", "file", "max_size", "max_files"}, diags_);
    if (!m.valid()) return;
    if (auto v = m.get("level")) {
        static constexpr std::array kLevels = {"trace", "debug",    "info", "warn",
                                               "error", "critical", "off"};
        if (auto s = read_string(file_, *v, "log.level", diags_)) {
            if (std::find(kLevels.begin(), kLevels.end(), *s) == kLevels.end())
                diags_.error(
                    location_of(file_, *v),
                    "log.level: expected trace, debug, info, warn, error, critical or off, found " +
                        quote_value(*s));
            else
                log.level = *s;
        }
    }
    if (auto v = m.get("format")) {
        if (auto s = read_string(file_, *v, "log.format", diags_)) {
            if (*s == "text")
                log.format = LogFormat::text;
            else if (*s == "json")
                log.format = LogFormat::json;
            else
                diags_.error(location_of(file_, *v),
                             "log.format: expected text or json, found " + quote_value(*s));
        }
    }
    path_field(m, "file", log.file);
    if (auto v = m.get("max_size")) {
        const auto size = read_byte_size(file_, *v, "log.max_size", diags_);
        if (size && *size < kMinLogSize)
            diags_.error(location_of(file_, *v),
                         "log.max_size: at least 64KiB, found " + quote_value(v->Scalar()));
        else if (size)
            log.max_size = *size;
    }
    if (auto v = m.get("max_files"))
        if (auto i = read_int(file_, *v, "log.max_files", 1, 1000, diags_))
            log.max_files = static_cast<int>(*i);
}

void Parser::parse_control(const YAML::Node& n, ControlConfig& control) {
    const MapView m(file_, n, "control", {"socket", "mode"}, diags_);
    if (!m.valid()) return;
    path_field(m, "socket", control.socket);
    if (auto v = m.get("mode")) {
        const auto s = read_string(file_, *v, "control.mode", diags_);
        const bool octal =
            s && s->size() >= 3 && s->size() <= 4 &&
            std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '7'; });
        if (s && !octal)
            diags_.error(location_of(file_, *v),
                         "control.mode: expected an octal file mode such as \"0660\", found " +
                             quote_value(*s));
        else if (s)
            control.mode = static_cast<unsigned>(std::stoul(*s, nullptr, 8));
        if (octal && (control.mode & 0007) != 0)
            diags_.error(
                location_of(file_, *v),
                "control.mode: the control socket must not be open to others (" + *s + ")");
    }
}

void Parser::parse_metrics(const YAML::Node& n, std::string& listen) {
    const MapView m(file_, n, "metrics", {"listen"}, diags_);
    if (!m.valid()) return;
    if (auto v = m.get("listen")) {
        auto s = read_string(file_, *v, "metrics.listen", diags_);
        if (!s || s->empty()) return;
        const auto colon = s->rfind(':');
        const std::string host = colon == std::string::npos ? "" : s->substr(0, colon);
        const std::string port = colon == std::string::npos ? "" : s->substr(colon + 1);
        const bool port_ok =
            !port.empty() && port.size() <= 5 &&
            std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
            std::stoi(port) >= 1 && std::stoi(port) <= 65535;
        const bool host_ok =
            is_hostname(host) || (host.size() > 2 && host.front() == '[' && host.back() == ']');
        if (!port_ok || !host_ok)
            diags_.error(location_of(file_, *v),
                         "metrics.listen: expected host:port such as 127.0.0.1:9464, found " +
                             quote_value(*s));
        else
            listen = *s;
    }
}

void Parser::parse_evidence(const YAML::Node& n, EvidenceConfig& evidence) {
    const MapView m(file_, n, "evidence", {"max_file_size", "max_run_size"}, diags_);
    if (!m.valid()) return;
    if (auto v = m.get("max_file_size")) {
        const auto size = read_byte_size(file_, *v, "evidence.max_file_size", diags_);
        if (size && *size > kMaxFileSize)
            diags_.error(location_of(file_, *v),
                         "evidence.max_file_size: at most 4GB (a GetFile result is a ZIP "
                         "without ZIP64), found " +
                             quote_value(v->Scalar()));
        else if (size)
            evidence.max_file_size = *size;
    }
    if (auto v = m.get("max_run_size"))
        if (auto size = read_byte_size(file_, *v, "evidence.max_run_size", diags_))
            evidence.max_run_size = *size;
}

std::optional<Rate> Parser::parse_rate(const YAML::Node& n, const std::string& name) {
    const MapView m(file_, n, name, {"calls", "per"}, diags_);
    if (!m.valid()) return std::nullopt;
    const auto calls_node = m.get("calls");
    const auto per_node = m.get("per");
    if (!calls_node || !per_node) {
        diags_.error(location_of(file_, n), name + ": needs both `calls` and `per`");
        return std::nullopt;
    }
    auto calls = read_int(file_, *calls_node, m.field("calls"), 1, 1'000'000, diags_);
    auto per = read_duration(file_, *per_node, m.field("per"), diags_);
    if (per && per->count() == 0) {
        diags_.error(location_of(file_, *per_node), m.field("per") + ": must be longer than 0");
        return std::nullopt;
    }
    if (!calls || !per) return std::nullopt;
    return Rate{*calls, *per};
}

void Parser::parse_limits(const YAML::Node& n, const std::string& name, Limits& limits) {
    const MapView m(file_, n, name,
                    {"submit_rate", "read_rate", "concurrent_sessions", "pending_counts_as_running",
                     "offline_slots", "queue_expiry", "runscript_timeout", "collect_timeout"},
                    diags_);
    if (!m.valid()) return;
    if (auto v = m.get("submit_rate"))
        if (auto r = parse_rate(*v, m.field("submit_rate"))) limits.submit_rate = *r;
    if (auto v = m.get("read_rate")) {
        if (!v->IsSequence() || v->size() == 0) {
            diags_.error(location_of(file_, *v),
                         m.field("read_rate") + ": expected a non-empty list of {calls, per}");
        } else {
            std::vector<Rate> rates;
            for (std::size_t i = 0; i < v->size(); ++i)
                if (auto r =
                        parse_rate((*v)[i], m.field("read_rate") + "[" + std::to_string(i) + "]"))
                    rates.push_back(*r);
            if (rates.size() == v->size()) limits.read_rate = rates;
        }
    }
    if (auto v = m.get("concurrent_sessions"))
        if (auto i = read_int(file_, *v, m.field("concurrent_sessions"), 1, 10'000, diags_))
            limits.concurrent_sessions = static_cast<int>(*i);
    if (auto v = m.get("pending_counts_as_running"))
        if (auto b = read_bool(file_, *v, m.field("pending_counts_as_running"), diags_))
            limits.pending_counts_as_running = *b;
    if (auto v = m.get("offline_slots"))
        if (auto i = read_int(file_, *v, m.field("offline_slots"), 0, 10'000, diags_))
            limits.offline_slots = static_cast<int>(*i);
    if (auto v = m.get("queue_expiry"))
        if (auto d = read_duration(file_, *v, m.field("queue_expiry"), diags_))
            limits.queue_expiry = *d;
    if (auto v = m.get("runscript_timeout"))
        if (auto d = read_duration(file_, *v, m.field("runscript_timeout"), diags_))
            limits.runscript_timeout = *d;
    if (auto v = m.get("collect_timeout"))
        if (auto d = read_duration(file_, *v, m.field("collect_timeout"), diags_))
            limits.collect_timeout = *d;
    if (limits.offline_slots > limits.concurrent_sessions)
        diags_.error(location_of(file_, n), name + ": offline_slots (" +
                                                std::to_string(limits.offline_slots) +
                                                ") cannot exceed concurrent_sessions (" +
                                                std::to_string(limits.concurrent_sessions) + ")");
}

void Parser::url_field(const MapView& m, std::string_view key, std::string& out) {
    if (auto v = m.get(key)) {
        if (auto s = read_string(file_, *v, m.field(key), diags_)) {
            if (!is_https_base_url(*s))
                diags_.error(location_of(file_, *v),
                             m.field(key) + ": expected an https:// base URL with no path, found " +
                                 quote_value(*s));
            else
                out = s->back() == '/' ? s->substr(0, s->size() - 1) : *s;
        }
    }
}

std::optional<Tenant> Parser::parse_tenant(const YAML::Node& n, const std::string& name) {
    const MapView m(
        file_, n, name,
        {"name", "tenant_id", "client_id", "client_secret_file", "client_certificate_file",
         "client_key_file", "api_base", "login_base", "scope", "ca_file", "limits", "poll_interval",
         "listing_lag", "clock_skew", "offline_after", "library_dir"},
        diags_);
    if (!m.valid()) return std::nullopt;
    Tenant t;
    t.where = location_of(file_, n);
    const std::size_t errors_before = diags_.error_count();
    const auto required = [&](std::string_view key) {
        auto v = m.get(key);
        if (!v)
            diags_.error(location_of(file_, n),
                         name + ": missing required key `" + std::string(key) + "`");
        return v;
    };
    if (auto v = required("name"))
        if (auto s = read_string(file_, *v, m.field("name"), diags_)) {
            if (!is_name(*s))
                diags_.error(
                    location_of(file_, *v),
                    m.field("name") + ": expected [a-z0-9][a-z0-9._-]*, found " + quote_value(*s));
            else
                t.name = *s;
        }
    if (auto v = required("tenant_id"))
        if (auto s = read_string(file_, *v, m.field("tenant_id"), diags_)) {
            if (!is_guid(*s) && !is_hostname(*s))
                diags_.error(
                    location_of(file_, *v),
                    m.field("tenant_id") +
                        ": expected a GUID or a domain such as contoso.onmicrosoft.com, found " +
                        quote_value(*s));
            else
                t.tenant_id = *s;
        }
    if (auto v = required("client_id"))
        if (auto s = read_string(file_, *v, m.field("client_id"), diags_)) {
            if (!is_guid(*s))
                diags_.error(location_of(file_, *v),
                             m.field("client_id") + ": expected a GUID, found " + quote_value(*s));
            else
                t.client_id = *s;
        }
    path_field(m, "client_secret_file", t.client_secret_file);
    path_field(m, "client_certificate_file", t.client_certificate_file);
    path_field(m, "client_key_file", t.client_key_file);
    // Exactly one kind of credential per tenant: a secret, or a certificate
    // and its key. The key may come from $CREDENTIALS_DIRECTORY instead of
    // client_key_file (config/credential.hpp), the certificate may not.
    if (!t.client_secret_file.empty() && !t.client_certificate_file.empty())
        diags_.error(location_of(file_, *m.get("client_certificate_file")),
                     m.field("client_certificate_file") +
                         ": a tenant has a client secret or a certificate, not both (remove "
                         "client_secret_file or client_certificate_file)");
    if (!t.client_key_file.empty() && t.client_certificate_file.empty())
        diags_.error(location_of(file_, *m.get("client_key_file")),
                     m.field("client_key_file") +
                         ": a private key needs its certificate: set client_certificate_file");
    url_field(m, "api_base", t.api_base);
    url_field(m, "login_base", t.login_base);
    if (auto v = m.get("scope"))
        if (auto s = read_string(file_, *v, m.field("scope"), diags_)) {
            if (s->empty() || has_control_chars(*s, false) || s->find(' ') != std::string::npos)
                diags_.error(location_of(file_, *v),
                             m.field("scope") +
                                 ": expected one scope such as "
                                 "https://api.securitycenter.microsoft.com/.default");
            else
                t.scope = *s;
        }
    path_field(m, "ca_file", t.ca_file);
    path_field(m, "library_dir", t.library_dir);
    if (auto v = m.get("limits")) parse_limits(*v, m.field("limits"), t.limits);
    if (auto v = m.get("poll_interval"))
        if (auto d = read_duration(file_, *v, m.field("poll_interval"), diags_)) {
            if (d->count() == 0)
                diags_.error(location_of(file_, *v),
                             m.field("poll_interval") + ": must be longer than 0");
            else
                t.poll_interval = *d;
        }
    if (auto v = m.get("listing_lag"))
        if (auto d = read_duration(file_, *v, m.field("listing_lag"), diags_)) t.listing_lag = *d;
    if (auto v = m.get("clock_skew"))
        if (auto d = read_duration(file_, *v, m.field("clock_skew"), diags_)) t.clock_skew = *d;
    if (auto v = m.get("offline_after"))
        if (auto d = read_duration(file_, *v, m.field("offline_after"), diags_))
            t.offline_after = *d;
    if (diags_.error_count() != errors_before) return std::nullopt;
    return t;
}

std::optional<Config> Parser::parse(const YAML::Node& root) {
    Config c;
    c.path = file_;
    const MapView m(file_, root, "configuration",
                    {"state_dir", "jobs_dir", "jobs_scan_every", "log", "control", "metrics",
                     "evidence", "tenants"},
                    diags_);
    if (!m.valid()) return std::nullopt;
    path_field(m, "state_dir", c.state_dir);
    path_field(m, "jobs_dir", c.jobs_dir);
    if (auto v = m.get("jobs_scan_every"))
        if (auto d = read_duration(file_, *v, "jobs_scan_every", diags_)) {
            if (d->count() == 0)
                diags_.error(location_of(file_, *v), "jobs_scan_every: must be longer than 0");
            else
                c.jobs_scan_every = *d;
        }
    if (auto v = m.get("log")) parse_log(*v, c.log);
    if (auto v = m.get("control")) parse_control(*v, c.control);
    if (auto v = m.get("metrics")) parse_metrics(*v, c.metrics_listen);
    if (auto v = m.get("evidence")) parse_evidence(*v, c.evidence);
    const auto tenants = m.get("tenants");
    if (!tenants) {
        diags_.error({file_, 1, 1},
                     "missing required key `tenants`: at least one tenant is needed");
    } else if (!tenants->IsSequence() || tenants->size() == 0) {
        diags_.error(location_of(file_, *tenants), "tenants: expected a non-empty list of tenants");
    } else {
        for (std::size_t i = 0; i < tenants->size(); ++i) {
            const YAML::Node n = (*tenants)[i];
            auto t = parse_tenant(n, "tenants[" + std::to_string(i) + "]");
            if (!t) continue;
            if (c.find_tenant(t->name))
                diags_.error(location_of(file_, n), "tenants[" + std::to_string(i) +
                                                        "]: duplicate tenant name " +
                                                        quote_value(t->name));
            else
                c.tenants.push_back(std::move(*t));
        }
    }
    if (diags_.has_errors()) return std::nullopt;
    return c;
}

}  // namespace

const Tenant* Config::find_tenant(std::string_view name) const {
    for (const auto& t : tenants)
        if (t.name == name) return &t;
    return nullptr;
}

std::optional<Config> parse_config(std::string_view text,
                                   const std::string& path,
                                   Diagnostics& diags) {
    auto root = load_yaml(text, path, kConfigLimits, diags);
    if (!root) return std::nullopt;
    return Parser(path, diags).parse(*root);
}

std::optional<Config> load_config(const std::string& path, Diagnostics& diags) {
    auto text = read_text_file(path, kConfigLimits.max_bytes, diags);
    if (!text) return std::nullopt;
    return parse_config(*text, path, diags);
}

std::string credential_path(const Tenant& tenant,
                            std::string_view credentials_directory,
                            std::string_view extension,
                            const std::string& configured) {
    if (!credentials_directory.empty()) {
        std::string candidate =
            std::string(credentials_directory) + "/" + tenant.name + "." + std::string(extension);
        if (::access(candidate.c_str(), F_OK) == 0) return candidate;
    }
    return configured;
}

Result<std::string> read_private_file(const std::string& path,
                                      const std::string& what,
                                      std::size_t max_bytes) {
    // Not followed if a link, never waited on if a FIFO (safe_file.hpp).
    auto file = RegularFile::open(path, Links::refuse);
    if (!file) return Error{file.error().code, what + file.error().message};
    const mode_t mode = file->status().st_mode;
    if ((mode & 0077) != 0) {
        char octal[8];
        std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
        return Error{Errc::permission_denied,
                     what + "has mode " + octal +
                         ", readable or writable by group or others; run chmod 600 " + path};
    }
    auto content = file->read_all(max_bytes);
    if (!content) return Error{content.error().code, what + content.error().message};
    return content;
}

Result<Secret> read_client_secret(const Tenant& tenant, std::string_view credentials_directory) {
    const std::string path =
        credential_path(tenant, credentials_directory, "secret", tenant.client_secret_file);
    if (path.empty())
        return Error{Errc::not_found, "tenant " + tenant.name +
                                          ": no client secret (set client_secret_file, or provide "
                                          "$CREDENTIALS_DIRECTORY/" +
                                          tenant.name + ".secret)"};
    const std::string what = "tenant " + tenant.name + ": secret file " + path + ": ";
    auto content = read_private_file(path, what, kMaxSecretBytes);
    if (!content) return std::move(content).error();
    const std::string_view secret = trim(*content);
    if (secret.empty()) return Error{Errc::invalid_input, what + "is empty"};
    return Secret{std::string(secret)};
}

}  // namespace lrsched::config
