#include "jobs/job_parser.hpp"

#include "common/text.hpp"
#include "common/text_check.hpp"
#include "jobs/job_finish_keys.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>

namespace lrsched::jobs {
namespace {

namespace fs = std::filesystem;

// Known osPlatform values. An unknown one is a warning, not an error:
// Microsoft adds platforms, and a new one must not stop a sweep.
constexpr std::string_view kKnownOs[] = {"Windows10",
                                         "Windows11",
                                         "WindowsServer2008R2",
                                         "WindowsServer2012R2",
                                         "WindowsServer2016",
                                         "WindowsServer2019",
                                         "WindowsServer2022",
                                         "WindowsServer2025",
                                         "Linux",
                                         "macOS",
                                         "iOS",
                                         "Android"};

int rank(CommandType t) {
    return static_cast<int>(t);
}  // PutFile < RunScript < GetFile

class Parser {
  public:
    Parser(const std::string& file, const JobContext& ctx, Diagnostics& diags, JobReads& reads)
        : file_(file), ctx_(ctx), diags_(diags), reads_(reads) {}

    std::optional<Job> parse(const YAML::Node& root);

  private:
    Location at(const YAML::Node& n) const { return location_of(file_, n); }
    void error(const YAML::Node& n, std::string msg) { diags_.error(at(n), std::move(msg)); }

    std::optional<std::string> text(const MapView& m, std::string_view key, bool tab_ok = true);
    void parse_selectors(const MapView& m, Selectors& out);
    void parse_targets(const YAML::Node& n, Job& job);
    void parse_from_file(const YAML::Node& n, Targets& targets);
    void parse_commands(const YAML::Node& n, Job& job);
    std::optional<Command> parse_command(const YAML::Node& item, std::size_t index);
    void parse_schedule(const YAML::Node& n, Job& job);
    void parse_retry(const YAML::Node& n, Job& job);
    void parse_tenant(const YAML::Node* n, Job& job);
    // Column of byte `offset` inside scalar `n`'s text (a quoted scalar
    // starts one column after its mark).
    Location inside(const YAML::Node& n, std::size_t offset) const {
        Location l = at(n);
        if (l.col > 0) l.col += static_cast<int>(offset) + (n.Tag() == "!" ? 1 : 0);
        return l;
    }

    const std::string& file_;
    const JobContext& ctx_;
    Diagnostics& diags_;
    JobReads& reads_;
};

std::optional<std::string> Parser::text(const MapView& m, std::string_view key, bool tab_ok) {
    auto v = m.get(key);
    if (!v) return std::nullopt;
    auto s = read_string(file_, *v, m.field(key), diags_);
    if (s && has_control_chars(*s, tab_ok)) {
        error(*v, m.field(key) + ": control characters (newline, NUL, ...) are not allowed");
        return std::nullopt;
    }
    return s;
}

void Parser::parse_selectors(const MapView& m, Selectors& out) {
    if (auto v = m.get("machines"))
        if (auto list = read_string_list(file_, *v, m.field("machines"), diags_))
            for (const auto& item : *list) {
                if (is_machine_id(item.value))
                    out.machines.push_back(to_lower(item.value));
                else
                    diags_.error(item.where,
                                 m.field("machines") + ": " + quote_value(item.value) +
                                     " is not a machine id (40 hexadecimal characters)");
            }
    if (auto v = m.get("hostnames"))
        if (auto list = read_string_list(file_, *v, m.field("hostnames"), diags_))
            for (const auto& item : *list) {
                if (is_hostname(item.value))
                    out.hostnames.push_back(to_lower(item.value));
                else
                    diags_.error(item.where, m.field("hostnames") + ": " + quote_value(item.value) +
                                                 " is not a host name");
            }
    const auto labels = [&](std::string_view key, std::vector<std::string>& dest) {
        auto v = m.get(key);
        if (!v) return;
        if (auto list = read_string_list(file_, *v, m.field(key), diags_))
            for (const auto& item : *list) {
                if (trim(item.value).empty() || has_control_chars(item.value) ||
                    item.value.size() > 256)
                    diags_.error(
                        item.where,
                        m.field(key) + ": " + quote_value(item.value) +
                            " is not a usable name (empty, too long or control characters)");
                else
                    dest.push_back(item.value);
            }
    };
    labels("tags", out.tags);
    labels("groups", out.groups);
}

void Parser::parse_from_file(const YAML::Node& n, Targets& targets) {
    auto written = read_string(file_, n, "targets.from_file", diags_);
    if (!written) return;
    if (written->empty() || has_control_chars(*written)) {
        error(n, "targets.from_file: expected a file name relative to the job file");
        return;
    }
    std::error_code ec;
    const fs::path job_dir = fs::absolute(fs::path(file_)).parent_path();
    const fs::path root =
        fs::canonical(ctx_.jobs_dir.empty() ? job_dir : fs::path(ctx_.jobs_dir), ec);
    if (ec) {
        error(n, "targets.from_file: jobs directory " + quote_value(ctx_.jobs_dir) +
                     " cannot be resolved: " + ec.message());
        return;
    }
    // Recorded before it is resolved: a list that does not exist yet is
    // noticed when it appears.
    reads_.targets_path = (job_dir / *written).lexically_normal().string();
    const fs::path target = fs::canonical(job_dir / *written, ec);
    if (ec) {
        error(n,
              "targets.from_file: " + quote_value(*written) + " cannot be read: " + ec.message());
        return;
    }
    // Both paths are canonical (symlinks resolved), so a lexical check suffices.
    const fs::path rel = target.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") {
        error(n, "targets.from_file: " + quote_value(*written) + " resolves to " + target.string() +
                     ", outside the jobs directory " + root.string());
        return;
    }
    targets.from_file = *written;
    targets.from_file_path = target.string();
    reads_.targets_path = target.string();
    reads_.targets_stamp = stamp_file(target.string());
    // The list's problems name the job line that points at it as well: an
    // operator reading them may not know which job uses the list.
    Diagnostics read_diags;
    auto content = read_text_file(target.string(), kMaxTargetFileBytes, read_diags);
    if (!content) {
        for (const auto& d : read_diags.all())
            error(n, "targets.from_file: " + quote_value(*written) + ": " + d.message);
        return;
    }
    if (reads_.hash) reads_.hash->update(*content);
    Diagnostics list_diags;
    auto list = parse_target_list(*content, target.string(), list_diags);
    content.reset();
    const Location named = at(n);
    const std::string suffix = " (target list named at " + named.file + ":" +
                               std::to_string(named.line) + ":" + std::to_string(named.col) + ")";
    for (const auto& d : list_diags.all())
        diags_.error(d.where, d.message + suffix);
    if (!list) return;
    for (auto& m : list->machines)
        targets.include.machines.push_back(std::move(m));
    for (auto& h : list->hostnames)
        targets.include.hostnames.push_back(std::move(h));
}

void Parser::parse_targets(const YAML::Node& n, Job& job) {
    const MapView m(file_, n, "targets",
                    {"machines", "hostnames", "tags", "groups", "os", "from_file", "exclude"},
                    diags_);
    if (!m.valid()) return;
    Targets& t = job.targets;
    const std::size_t errors_before = diags_.error_count();
    parse_selectors(m, t.include);
    if (auto v = m.get("os"))
        if (auto list = read_string_list(file_, *v, m.field("os"), diags_))
            for (const auto& item : *list) {
                if (std::find(std::begin(kKnownOs), std::end(kKnownOs), item.value) ==
                    std::end(kKnownOs))
                    diags_.warning(
                        item.where,
                        "targets.os: " + quote_value(item.value) +
                            " is not an osPlatform value lrsched knows; it will match only "
                            "machines reporting exactly that");
                t.os.push_back(item.value);
            }
    if (auto v = m.get("from_file")) parse_from_file(*v, t);
    if (auto v = m.get("exclude")) {
        const MapView ex(file_, *v, "targets.exclude", {"machines", "hostnames", "tags", "groups"},
                         diags_);
        if (ex.valid()) parse_selectors(ex, t.exclude);
    }
    if (t.include.empty() && diags_.error_count() == errors_before) {
        if (!t.os.empty())
            error(n,
                  "targets: empty target set: `os` only narrows the other selectors; add machines, "
                  "hostnames, tags, groups or from_file");
        else if (!t.from_file.empty())
            error(n, "targets: empty target set: " + t.from_file + " lists no machine");
        else
            error(n,
                  "targets: empty target set; name machines, hostnames, tags, groups or from_file");
    }
}

std::optional<Command> Parser::parse_command(const YAML::Node& item, std::size_t index) {
    const std::string name = "commands[" + std::to_string(index) + "]";
    if (!item.IsMap()) {
        error(item, name + ": expected a command such as `- GetFile: 'C:\\path'`");
        return std::nullopt;
    }
    std::optional<Command> cmd;
    std::optional<YAML::Node> args;
    bool ok = true;
    for (const auto& kv : item) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        CommandType type{};
        if (key == "PutFile")
            type = CommandType::PutFile;
        else if (key == "RunScript")
            type = CommandType::RunScript;
        else if (key == "GetFile")
            type = CommandType::GetFile;
        else if (key == "Args") {
            if (args) error(kv.first, name + ": duplicate key \"Args\"");
            args = kv.second;
            continue;
        } else {
            error(kv.first,
                  name + ": unknown command " + quote_value(key) +
                      " (expected PutFile, RunScript or GetFile; names are case-sensitive)");
            ok = false;
            continue;
        }
        if (cmd) {
            error(kv.first, name + ": one command per list item; start another item with '-'");
            ok = false;
            continue;
        }
        cmd = Command{type, {}, std::nullopt};
        const std::string field = name + "." + key;
        static constexpr const char* kParam[] = {"a file name from the live response library",
                                                 "a script name from the live response library",
                                                 "a path on the device"};
        if (kv.second.IsNull() || (kv.second.IsScalar() && trim(kv.second.Scalar()).empty())) {
            error(kv.second.IsNull() ? kv.first : kv.second,
                  field + ": missing parameter: " + kParam[rank(type)]);
            ok = false;
            continue;
        }
        auto value = read_string(file_, kv.second, field, diags_);
        if (!value) {
            ok = false;
            continue;
        }
        if (has_control_chars(*value) || value->size() > 4096) {
            error(kv.second, field + ": control characters or over 4096 bytes");
            ok = false;
        } else if (type != CommandType::GetFile &&
                   value->find_first_of("/\\") != std::string::npos) {
            error(kv.second,
                  field + ": " + quote_value(*value) + " must be a library file name, not a path");
            ok = false;
        }
        cmd->param = *value;
    }
    if (!cmd) {
        if (ok) error(item, name + ": no command (expected PutFile, RunScript or GetFile)");
        return std::nullopt;
    }
    if (args) {
        if (cmd->type != CommandType::RunScript) {
            error(*args, name + ".Args: only RunScript takes Args");
            ok = false;
        } else if (auto a = read_string(file_, *args, name + ".Args", diags_)) {
            if (has_control_chars(*a)) {
                error(*args,
                      name + ".Args: control characters (newline, NUL, ...) are not allowed");
                ok = false;
            }
            cmd->args = *a;
        } else {
            ok = false;
        }
    }
    if (!ok) return std::nullopt;
    return cmd;
}

void Parser::parse_commands(const YAML::Node& n, Job& job) {
    if (!n.IsSequence() || n.size() == 0) {
        error(n, "commands: expected a non-empty list of PutFile, RunScript and GetFile commands");
        return;
    }
    int highest = -1;
    CommandType highest_type{};
    for (std::size_t i = 0; i < n.size(); ++i) {
        const YAML::Node item = n[i];
        auto cmd = parse_command(item, i);
        if (!cmd) continue;
        if (rank(cmd->type) < highest)
            error(item,
                  "commands[" + std::to_string(i) + "]: " + std::string(to_string(cmd->type)) +
                      " after " + std::string(to_string(highest_type)) +
                      ": commands must come in the order PutFile, then RunScript, then GetFile");
        else {
            highest = rank(cmd->type);
            highest_type = cmd->type;
        }
        job.commands.push_back(std::move(*cmd));
    }
}

void Parser::parse_schedule(const YAML::Node& n, Job& job) {
    const MapView m(file_, n, "schedule", {"cron", "window", "timezone", "overlap", "catch_up"},
                    diags_);
    if (!m.valid()) return;
    Schedule& s = job.schedule;
    if (auto v = m.get("cron"))
        if (auto t = read_string(file_, *v, "schedule.cron", diags_)) {
            ScheduleParseError err;
            if (auto c = CronExpr::parse(*t, &err))
                s.cron = std::move(*c);
            else
                diags_.error(inside(*v, err.offset), "schedule.cron: " + err.message);
        }
    if (auto v = m.get("window"))
        if (auto t = read_string(file_, *v, "schedule.window", diags_)) {
            ScheduleParseError err;
            if (auto w = TimeWindow::parse(*t, &err))
                s.window = *w;
            else
                diags_.error(inside(*v, err.offset), "schedule.window: " + err.message);
        }
    if (auto t = text(m, "timezone")) {
        if (*t == "utc" || *t == "UTC")
            s.tz = TimeZone::utc;
        else if (*t == "local")
            s.tz = TimeZone::local;
        else
            error(*m.get("timezone"),
                  "schedule.timezone: expected utc or local, found " + quote_value(*t));
    }
    if (auto t = text(m, "overlap")) {
        if (*t == "skip")
            s.overlap = Overlap::skip;
        else if (*t == "queue")
            s.overlap = Overlap::queue;
        else
            error(*m.get("overlap"),
                  "schedule.overlap: expected skip or queue, found " + quote_value(*t));
    }
    if (auto v = m.get("catch_up"))
        if (auto b = read_bool(file_, *v, "schedule.catch_up", diags_)) s.catch_up = *b;
    if (!m.get("cron"))
        for (const char* key : {"overlap", "catch_up"})
            if (auto v = m.get(key))
                diags_.warning(at(*v),
                               std::string("schedule.") + key +
                                   " has no effect without schedule.cron (the job runs once)");
}

void Parser::parse_retry(const YAML::Node& n, Job& job) {
    const MapView m(file_, n, "retry", {"busy_every", "failed", "expired"}, diags_);
    if (!m.valid()) return;
    if (auto v = m.get("busy_every"))
        if (auto d = read_duration(file_, *v, "retry.busy_every", diags_)) {
            if (d->count() == 0)
                error(*v, "retry.busy_every: must be longer than 0");
            else
                job.retry.busy_every = *d;
        }
    if (auto v = m.get("failed"))
        if (auto i = read_int(file_, *v, "retry.failed", 0, 10, diags_))
            job.retry.failed = static_cast<int>(*i);
    if (auto v = m.get("expired"))
        if (auto i = read_int(file_, *v, "retry.expired", 0, 10, diags_))
            job.retry.expired = static_cast<int>(*i);
}

void Parser::parse_tenant(const YAML::Node* n, Job& job) {
    std::string joined;
    for (const auto& t : ctx_.tenants)
        joined += (joined.empty() ? "" : ", ") + t;
    if (!n) {
        if (ctx_.tenants.size() == 1)
            job.tenant = ctx_.tenants.front();
        else if (ctx_.tenants.size() > 1)
            diags_.error({file_, 1, 1},
                         "tenant: required when several tenants are configured (" + joined + ")");
        return;
    }
    auto s = read_string(file_, *n, "tenant", diags_);
    if (!s) return;
    if (!is_name(*s))
        error(*n, "tenant: expected [a-z0-9][a-z0-9._-]*, found " + quote_value(*s));
    else if (!ctx_.tenants.empty() &&
             std::find(ctx_.tenants.begin(), ctx_.tenants.end(), *s) == ctx_.tenants.end())
        error(*n, "tenant: " + quote_value(*s) + " is not configured (configured: " + joined + ")");
    else
        job.tenant = *s;
}

std::optional<Job> Parser::parse(const YAML::Node& root) {
    Job job;
    job.source_path = file_;
    if (auto name = job_name_from_path(file_))
        job.name = *name;
    else
        diags_.error({file_, 1, 1},
                     "file name must be <job>.yaml or <job>.yml with <job> matching "
                     "[a-z0-9][a-z0-9._-]* (it names the job)");
    if (root.IsNull()) {
        diags_.error({file_, 1, 1},
                     "the file is empty: a job needs at least `targets` and `commands`");
        return std::nullopt;
    }
    const MapView m(file_, root, "job",
                    {"description", "tenant", "targets", "commands", "comment", "schedule",
                     "priority", "retry", "deadline", "on_finish", "evidence"},
                    diags_);
    if (!m.valid()) return std::nullopt;
    if (auto s = text(m, "description")) job.description = *s;
    auto tenant = m.get("tenant");
    parse_tenant(tenant ? &*tenant : nullptr, job);
    if (auto v = m.get("targets"))
        parse_targets(*v, job);
    else
        diags_.error({file_, 1, 1}, "missing required key `targets`");
    if (auto v = m.get("commands"))
        parse_commands(*v, job);
    else
        diags_.error({file_, 1, 1}, "missing required key `commands`");
    if (auto s = text(m, "comment")) job.comment = *s;
    if (auto v = m.get("schedule")) parse_schedule(*v, job);
    if (auto v = m.get("priority"))
        if (auto p = read_int(file_, *v, "priority", 0, 100, diags_))
            job.priority = static_cast<int>(*p);
    if (auto v = m.get("retry")) parse_retry(*v, job);
    if (auto v = m.get("deadline"))
        if (auto d = read_duration(file_, *v, "deadline", diags_)) {
            if (d->count() == 0)
                error(*v, "deadline: must be longer than 0");
            else
                job.deadline = *d;
        }
    if (auto v = m.get("on_finish")) parse_on_finish(file_, *v, job, diags_);
    if (auto v = m.get("evidence")) parse_evidence(file_, *v, job, diags_);
    if (diags_.has_errors()) return std::nullopt;
    return job;
}

}  // namespace

std::optional<std::string> job_name_from_path(std::string_view path) {
    const fs::path p{std::string(path)};
    const std::string ext = p.extension().string();
    if (ext != ".yaml" && ext != ".yml") return std::nullopt;
    std::string stem = p.stem().string();
    if (!is_name(stem)) return std::nullopt;
    return stem;
}

FileStamp stamp_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return {static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_size),
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::optional<Job> parse_job(std::string_view text,
                             const std::string& path,
                             const JobContext& ctx,
                             Diagnostics& diags,
                             JobReads* reads) {
    Diagnostics local;
    JobReads ignored;
    auto root = load_yaml(text, path, kJobYamlLimits, local);
    std::optional<Job> job;
    if (root) job = Parser(path, ctx, local, reads ? *reads : ignored).parse(*root);
    diags.append(local);
    if (local.has_errors()) return std::nullopt;
    return job;
}

std::optional<TargetList> parse_target_list(std::string_view text,
                                            const std::string& path,
                                            Diagnostics& diags) {
    TargetList out;
    if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);  // Notepad's byte order mark
    if (!check_text(text, path, diags)) return std::nullopt;
    const std::size_t errors_before = diags.error_count();
    std::size_t entries = 0;
    int line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nl = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        const std::string_view entry = trim(line);
        if (entry.empty()) continue;
        const int col = static_cast<int>(entry.data() - line.data()) + 1;
        if (++entries > kMaxTargetFileEntries) {
            diags.error({path, line_no, col}, "more than " + std::to_string(kMaxTargetFileEntries) +
                                                  " entries (entry cap)");
            return std::nullopt;
        }
        if (is_machine_id(entry))
            out.machines.push_back(to_lower(entry));
        else if (is_hostname(entry))
            out.hostnames.push_back(to_lower(entry));
        else
            diags.error({path, line_no, col},
                        quote_value(entry) + " is neither a machine id nor a host name");
    }
    if (diags.error_count() != errors_before) return std::nullopt;
    return out;
}

}  // namespace lrsched::jobs
