// `on_finish` (a command and/or a webhook run when a run ends) and `evidence`
// (retention) in a job file. The webhook's query string may carry a token:
// no message here ever holds more of the URL than url_for_display() gives.
#include "jobs/job_finish_keys.hpp"

#include "common/text.hpp"
#include "common/url.hpp"
#include "common/yaml_reader.hpp"

#include <cstdint>
#include <limits>

namespace lrsched::jobs {
namespace {

std::optional<std::vector<std::string>> read_argv(const std::string& file,
                                                  const YAML::Node& n,
                                                  Diagnostics& diags) {
    const std::string field = "on_finish.command";
    const auto at = [&](const YAML::Node& node) { return location_of(file, node); };
    if (n.IsSequence() && n.size() > kMaxHookArgs) {
        // Checked before the items are read: a 50,000-item list gets one line.
        diags.error(at(n), field + ": more than " + std::to_string(kMaxHookArgs) + " arguments");
        return std::nullopt;
    }
    auto list = read_string_list(file, n, field, diags);
    if (!list) return std::nullopt;
    if (list->empty()) {
        diags.error(at(n), field + ": expected a non-empty list: the program, then its arguments");
        return std::nullopt;
    }
    bool ok = true;
    std::vector<std::string> argv;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const LocatedString& item = (*list)[i];
        const std::string name = field + "[" + std::to_string(i) + "]";
        if (item.value.size() > kMaxHookArgBytes) {
            diags.error(item.where, name + ": longer than " + std::to_string(kMaxHookArgBytes) +
                                        " bytes (" + std::to_string(item.value.size()) + ")");
            ok = false;
        } else if (has_control_chars(item.value)) {
            diags.error(item.where, name + ": " + quote_value(item.value) +
                                        ": control characters (newline, NUL, ...) are not allowed");
            ok = false;
        } else if (i == 0 && (item.value.empty() || item.value.front() != '/')) {
            // No PATH search: the daemon's PATH is not the operator's shell's,
            // and a relative name would run whatever sits first on it.
            diags.error(item.where, name + ": " + quote_value(item.value) +
                                        " is not an absolute path (the program runs without a "
                                        "shell or PATH search)");
            ok = false;
        }
        argv.push_back(item.value);
    }
    if (!ok) return std::nullopt;
    return argv;
}

std::optional<std::string> read_webhook(const std::string& file,
                                        const YAML::Node& n,
                                        Diagnostics& diags) {
    auto url = read_string(file, n, "on_finish.webhook", diags);
    if (!url) return std::nullopt;
    // parse_https_url's message quotes the URL through url_for_display().
    auto parsed = parse_https_url(*url);
    if (!parsed) {
        diags.error(location_of(file, n), "on_finish.webhook: " + parsed.error().message +
                                              " (expected https://host/path)");
        return std::nullopt;
    }
    return url;
}

}  // namespace

void parse_on_finish(const std::string& file, const YAML::Node& n, Job& job, Diagnostics& diags) {
    const MapView m(file, n, "on_finish", {"command", "webhook", "diff"}, diags);
    if (!m.valid()) return;
    const std::size_t errors_before = diags.error_count();
    OnFinish f;
    if (auto v = m.get("command"))
        if (auto argv = read_argv(file, *v, diags)) f.command = std::move(*argv);
    if (auto v = m.get("webhook"))
        if (auto url = read_webhook(file, *v, diags)) f.webhook = std::move(*url);
    if (auto v = m.get("diff"))
        if (auto b = read_bool(file, *v, "on_finish.diff", diags)) f.diff = *b;
    if (!m.get("command") && !m.get("webhook")) {
        diags.error(location_of(file, n),
                    "on_finish: expected `command` (an argv list), `webhook` (an https:// URL) "
                    "or both");
        return;
    }
    if (diags.error_count() == errors_before) job.on_finish = std::move(f);
}

void parse_evidence(const std::string& file, const YAML::Node& n, Job& job, Diagnostics& diags) {
    const MapView m(file, n, "evidence", {"keep_runs", "keep_for"}, diags);
    if (!m.valid()) return;
    if (auto v = m.get("keep_runs"))
        if (auto i = read_int(file, *v, "evidence.keep_runs", 1,
                              std::numeric_limits<std::int32_t>::max(), diags))
            job.evidence.keep_runs = *i;
    if (auto v = m.get("keep_for"))
        if (auto d = read_duration(file, *v, "evidence.keep_for", diags)) {
            if (d->count() == 0)
                diags.error(location_of(file, *v), "evidence.keep_for: must be longer than 0");
            else
                job.evidence.keep_for = *d;
        }
}

}  // namespace lrsched::jobs
