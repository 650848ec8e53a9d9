// `lrsched results`, `diff` and `stack` (SPEC §4 "Reading results", §6):
// read the store through its read-only Report and the run folders under
// state_dir/evidence, build each run's table (evidence/results.hpp) and
// print it for people (a table), for a SIEM (JSON lines) or a spreadsheet
// (CSV), compare two runs (evidence/run_diff.hpp) or stack one. They never
// ask the daemon: they read files it has finished with, so they work the
// same with the daemon running or stopped, for whoever may read state_dir
// (root or the lrsched group). Every string from a server or a machine is
// made printable before it reaches the terminal, and CSV cells that a
// spreadsheet would run as a formula are defused.
#include "cli/results_cmds.hpp"

#include "cli/control_cmds.hpp"
#include "common/clock.hpp"
#include "common/diagnostic.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "evidence/run_diff.hpp"
#include "evidence/text_diff.hpp"
#include "store/database_path.hpp"
#include "store/report.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace lrsched::cli {
namespace {

using evidence::Change;
using evidence::ResultFile;
using evidence::ResultRow;
using evidence::RunResults;
using nlohmann::json;

// `--show` compares outputs up to this size (each side).
constexpr std::size_t kShowCap = std::size_t{4} * 1024 * 1024;

void print(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
}

std::string dump_line(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// Text from outside made safe for a terminal: valid UTF-8 stays as it is,
// control characters (C0, DEL, C1) and invalid bytes are escaped; cut at
// `max` bytes with "...".
std::string printable(std::string_view s, std::size_t max = 80) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 0;
        bool ok = len > 0 && i + len <= s.size();
        std::uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are invalid.
        if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
            ok = false;
        if (!ok || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            out += c == '\t' ? std::string(" ") : escape_byte(c);
            ++i;
            continue;
        }
        out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

// The first line of a text that has one, for a table's single line.
std::string first_line(std::string_view text) {
    const auto start = text.find_first_not_of('\n');
    if (start == std::string_view::npos) return "";
    text.remove_prefix(start);
    return std::string(text.substr(0, text.find('\n')));
}

std::string time_of(const std::optional<std::int64_t>& ms) {
    return ms ? utc_iso8601(*ms, TimePrecision::seconds) : "-";
}

// A CSV cell (RFC 4180); a cell a spreadsheet would take for a formula
// (=, +, -, @, tab, CR first) gets a leading apostrophe (OWASP's advice).
std::string csv_cell(std::string_view v) {
    std::string s(v);
    if (!s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos)
        s.insert(0, 1, '\'');
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

struct Opened {
    config::Config cfg;
    store::Report report;
};

std::optional<Opened> open_store(const Args& args, const char* cmd, int& exit_status) {
    const std::string path = args.config.value_or(config::kDefaultConfigPath);
    Diagnostics diags;
    auto cfg = config::load_config(path, diags);
    std::fputs(diags.to_string().c_str(), stderr);
    if (!cfg) {
        exit_status = kExitUserError;
        return std::nullopt;
    }
    auto report = store::Report::open(store::database_path(cfg->state_dir));
    if (!report) {
        std::fprintf(stderr, "lrsched %s: %s\n", cmd, report.error().message.c_str());
        exit_status = kExitUnreachable;
        return std::nullopt;
    }
    return Opened{std::move(*cfg), std::move(*report)};
}

int failed(const Error& e, const char* cmd) {
    std::fprintf(stderr, "lrsched %s: %s\n", cmd, e.message.c_str());
    return e.code == make_error_code(Errc::not_found) ? kExitUserError : kExitUnreachable;
}

std::optional<std::int64_t> parse_run(std::string_view s) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n <= 0) return std::nullopt;
    return n;
}

// The run's table, or the exit status after saying why there is none.
std::optional<RunResults> load_run(Opened& o,
                                   const std::string& job,
                                   std::int64_t run,
                                   const evidence::ResultOptions& options,
                                   const char* cmd,
                                   int& exit_status) {
    auto contents = o.report.run_contents(job, run);
    if (!contents) {
        exit_status = failed(contents.error(), cmd);
        return std::nullopt;
    }
    if (contents->evidence_removed_at) {
        std::fprintf(stderr, "lrsched %s: the evidence of job %s run %lld was removed on %s (%s)\n",
                     cmd, job.c_str(), static_cast<long long>(run),
                     time_of(contents->evidence_removed_at).c_str(),
                     contents->digest ? ("digest " + *contents->digest).c_str() : "no digest");
        exit_status = kExitUserError;
        return std::nullopt;
    }
    const std::string run_dir = o.cfg.state_dir + "/evidence/" + job + "/" + std::to_string(run);
    return evidence::build_results(*contents, run_dir, options);
}

// --run N, or the job's latest run.
std::optional<std::int64_t> pick_run(Opened& o,
                                     const Args& args,
                                     const char* cmd,
                                     int& exit_status) {
    const std::string& job = args.positional.front();
    if (args.run) {
        if (auto n = parse_run(*args.run)) return n;
        std::fprintf(stderr, "lrsched %s: --run takes a run number, found %s\n", cmd,
                     quote_value(*args.run).c_str());
        exit_status = kExitUserError;
        return std::nullopt;
    }
    auto runs = o.report.runs_of(job);
    if (!runs) {
        exit_status = failed(runs.error(), cmd);
        return std::nullopt;
    }
    if (runs->empty()) {
        std::fprintf(stderr, "lrsched %s: job %s has no run yet\n", cmd, job.c_str());
        exit_status = kExitUserError;
        return std::nullopt;
    }
    return runs->front().id;
}

std::string run_title(const RunResults& r) {
    std::string s = "job " + r.job + " run " + std::to_string(r.run);
    s += r.finished_at ? ", finished " + time_of(r.finished_at) : ", still going";
    if (r.digest) s += ", digest " + *r.digest;
    return s + ": " + std::to_string(r.rows.size()) + " session(s)\n";
}

std::string result_summary(const ResultFile& f) {
    std::string s = "  " + std::to_string(f.index) + " " + f.type + " " + printable(f.remote, 60) +
                    "  " + std::to_string(f.bytes) + " B  sha256 " + f.sha256.substr(0, 16);
    if (f.transcript) {
        const auto& t = *f.transcript;
        s += "  exit " + (t.exit_code ? std::to_string(*t.exit_code) : std::string("-"));
        const std::string out = first_line(t.output.preview);
        if (!out.empty()) s += "  output: " + printable(out, 60);
        const std::string err = first_line(t.errors.preview);
        if (!err.empty()) s += "  errors: " + printable(err, 60);
    } else if (f.zip) {
        s += "  ZIP of " + std::to_string(f.zip->entries.size()) + " file(s)";
        if (f.zip->entries.size() == 1) s += ": " + printable(f.zip->entries.front().name, 60);
    }
    if (!f.note.empty()) s += "  (" + printable(f.note, 100) + ")";
    return s + "\n";
}

std::string results_table(const RunResults& r) {
    std::string out = run_title(r);
    char line[256];
    std::snprintf(line, sizeof line, "%-32s %-10s %3s %5s %-20s %s\n", "MACHINE", "STATE", "ATT",
                  "EXIT", "ENDED", "ERROR");
    out += line;
    for (const ResultRow& row : r.rows) {
        std::snprintf(line, sizeof line, "%-32s %-10s %3lld %5s %-20s ",
                      printable(row.name(), 32).c_str(), row.state.c_str(),
                      static_cast<long long>(row.attempt),
                      row.exit_code ? std::to_string(*row.exit_code).c_str() : "-",
                      time_of(row.ended_at).c_str());
        out += line + printable(row.last_error, 80) + "\n";
        for (const ResultFile& f : row.files)
            out += result_summary(f);
    }
    return out;
}

std::string results_csv(const RunResults& r) {
    std::string out =
        "job,run,machine_id,computer_dns_name,state,attempt,exit_code,action_id,submitted_at,"
        "ended_at,last_error,command_index,command_type,remote,file,bytes,sha256,content_sha256,"
        "output,errors\n";
    for (const ResultRow& row : r.rows) {
        const std::string head =
            csv_cell(r.job) + "," + std::to_string(r.run) + "," + csv_cell(row.machine_id) + "," +
            csv_cell(row.computer_dns_name) + "," + row.state + "," + std::to_string(row.attempt) +
            "," + (row.exit_code ? std::to_string(*row.exit_code) : "") + "," +
            csv_cell(row.action_id) + "," + (row.submitted_at ? time_of(row.submitted_at) : "") +
            "," + (row.ended_at ? time_of(row.ended_at) : "") + "," + csv_cell(row.last_error);
        if (row.files.empty()) out += head + ",,,,,,,,,\n";
        for (const ResultFile& f : row.files) {
            out += head + "," + std::to_string(f.index) + "," + f.type + "," + csv_cell(f.remote) +
                   "," + csv_cell(f.file) + "," + std::to_string(f.bytes) + "," + f.sha256 + "," +
                   f.content_sha256 + "," +
                   csv_cell(f.transcript ? f.transcript->output.preview : "") + "," +
                   csv_cell(f.transcript ? f.transcript->errors.preview : "") + "\n";
        }
    }
    return out;
}

// The ZIP entries that differ between two results, one line each.
std::string zip_changes(const evidence::ZipContent& a, const evidence::ZipContent& b) {
    std::map<std::string, std::string> in_a;
    for (const auto& e : a.entries)
        in_a[e.name] = e.sha256;
    std::string out;
    for (const auto& e : b.entries) {
        const auto it = in_a.find(e.name);
        if (it == in_a.end())
            out += "      + " + printable(e.name) + "\n";
        else if (it->second != e.sha256)
            out += "      ~ " + printable(e.name) + "\n";
        if (it != in_a.end()) in_a.erase(it);
    }
    for (const auto& [name, sha] : in_a)
        out += "      - " + printable(name) + "\n";
    return out;
}

std::string shown_change(const evidence::ResultChange& c, std::int64_t run_a, std::int64_t run_b) {
    if (!c.a || !c.b) return "";
    if (c.a->zip && c.b->zip) return zip_changes(*c.a->zip, *c.b->zip);
    if (!c.a->transcript || !c.b->transcript) return "";
    std::string out;
    const auto& ta = *c.a->transcript;
    const auto& tb = *c.b->transcript;
    if (ta.output.truncated || tb.output.truncated)
        out += "      (output longer than " + std::to_string(kShowCap) +
               " bytes: its start is shown)\n";
    for (const auto& [part, a, b] : {std::tuple{"output", &ta.output, &tb.output},
                                     std::tuple{"errors", &ta.errors, &tb.errors}}) {
        if (a->sha256 == b->sha256) continue;
        auto d = evidence::unified_diff(a->preview, b->preview,
                                        "run " + std::to_string(run_a) + " " + part,
                                        "run " + std::to_string(run_b) + " " + part);
        if (!d) {
            out += "      (" + printable(d.error().message) + ")\n";
            continue;
        }
        // Under the result it belongs to, as the rest of the listing.
        std::size_t start = 0;
        while (start < d->size()) {
            const std::size_t end = d->find('\n', start);
            const std::size_t stop = end == std::string::npos ? d->size() : end;
            out += "      " + d->substr(start, stop - start) + "\n";
            start = stop + 1;
        }
    }
    return out;
}

}  // namespace

int cmd_results(const Args& args) {
    const std::string format = args.format.value_or("table");
    if (args.positional.size() != 1 ||
        (format != "table" && format != "jsonl" && format != "csv")) {
        std::fputs("usage: lrsched results JOB [--run N] [--format table|jsonl|csv] [-c FILE]\n",
                   stderr);
        return kExitUserError;
    }
    int status = kExitOk;
    auto o = open_store(args, "results", status);
    if (!o) return status;
    const auto run = pick_run(*o, args, "results", status);
    if (!run) return status;
    const auto r = load_run(*o, args.positional.front(), *run, {}, "results", status);
    if (!r) return status;
    if (format == "jsonl") {
        for (const ResultRow& row : r->rows)
            print(dump_line(evidence::to_json(row, r->job, r->run)));
    } else {
        print(format == "csv" ? results_csv(*r) : results_table(*r));
    }
    return kExitOk;
}

int cmd_diff(const Args& args) {
    if (args.positional.empty() || args.positional.size() > 3 || args.run) {
        std::fputs("usage: lrsched diff JOB [RUN_A [RUN_B]] [--json] [--show] [-c FILE]\n", stderr);
        return kExitUserError;
    }
    const std::string& job = args.positional.front();
    int status = kExitOk;
    auto o = open_store(args, "diff", status);
    if (!o) return status;
    std::vector<std::int64_t> picked;
    for (std::size_t i = 1; i < args.positional.size(); ++i) {
        const auto n = parse_run(args.positional[i]);
        if (!n) {
            std::fprintf(stderr, "lrsched diff: %s is not a run number\n",
                         quote_value(args.positional[i]).c_str());
            return kExitUserError;
        }
        picked.push_back(*n);
    }
    if (picked.size() < 2) {
        // Default: the latest finished runs (the latest one as B when A is given).
        auto runs = o->report.runs_of(job);
        if (!runs) return failed(runs.error(), "diff");
        std::vector<std::int64_t> finished;
        for (const store::RunBrief& b : *runs)
            if (b.finished_at && (picked.empty() || b.id != picked.front()))
                finished.push_back(b.id);
        const std::size_t need = 2 - picked.size();
        if (finished.size() < need) {
            std::fprintf(stderr,
                         "lrsched diff: job %s has %zu finished run(s) to compare; name two\n",
                         job.c_str(), finished.size() + picked.size());
            return kExitUserError;
        }
        if (picked.empty())
            picked = {finished[1], finished[0]};
        else
            picked.push_back(finished[0]);
    }
    evidence::ResultOptions options;
    if (args.show) options.preview_cap = kShowCap;
    const auto a = load_run(*o, job, picked[0], options, "diff", status);
    if (!a) return status;
    const auto b = load_run(*o, job, picked[1], options, "diff", status);
    if (!b) return status;
    const evidence::RunDiff d = evidence::diff_runs(*a, *b);
    if (args.json) {
        print(evidence::to_json(d, job).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
        return kExitOk;
    }
    std::string out = "diff of job " + job + ": run " + std::to_string(d.run_a) + " -> run " +
                      std::to_string(d.run_b) + "\n";
    for (const evidence::MachineChange& m : d.machines) {
        if (m.change == Change::unchanged) continue;
        char head[128];
        std::snprintf(head, sizeof head, "%-9s ", std::string(to_string(m.change)).c_str());
        out += head + printable(m.name, 64) + (m.why.empty() ? "" : "  " + printable(m.why, 100)) +
               "\n";
        for (const evidence::ResultChange& c : m.results) {
            out += "    " + std::to_string(c.index) + " " + c.type + " " + printable(c.remote, 60) +
                   ": " + c.what + "\n";
            if (args.show) out += shown_change(c, d.run_a, d.run_b);
        }
    }
    std::string counts;
    for (const Change c : evidence::kAllChanges)
        counts += (counts.empty() ? "" : ", ") + std::string(to_string(c)) + " " +
                  std::to_string(d.count(c));
    out += counts + "\n";
    print(out);
    return kExitOk;
}

int cmd_stack(const Args& args) {
    if (args.positional.size() != 1) {
        std::fputs("usage: lrsched stack JOB [--run N] [--json] [-c FILE]\n", stderr);
        return kExitUserError;
    }
    int status = kExitOk;
    auto o = open_store(args, "stack", status);
    if (!o) return status;
    const auto run = pick_run(*o, args, "stack", status);
    if (!run) return status;
    const auto r = load_run(*o, args.positional.front(), *run, {}, "stack", status);
    if (!r) return status;
    const auto stacked = evidence::stack_results(*r);
    if (args.json) {
        json entries = json::array();
        for (const auto& e : stacked) {
            json machines = json::array();
            for (const ResultRow* m : e.machines)
                machines.push_back(m->name());
            entries.push_back({{"count", e.machines.size()},
                               {"index", e.index},
                               {"type", e.type},
                               {"remote", e.remote},
                               {"content_sha256", e.content_sha256},
                               {"machines", std::move(machines)}});
        }
        print(json{{"job", r->job}, {"run", r->run}, {"results", std::move(entries)}}.dump(
                  2, ' ', false, json::error_handler_t::replace) +
              "\n");
        return kExitOk;
    }
    // For people, command by command, each one's results rarest first.
    std::map<std::int64_t, std::vector<const evidence::StackEntry*>> by_command;
    for (const auto& e : stacked)
        by_command[e.index].push_back(&e);
    std::string out = "stack of " + run_title(*r);
    for (const auto& [index, entries] : by_command) {
        std::size_t machines = 0;
        for (const auto* e : entries)
            machines += e->machines.size();
        out += std::to_string(index) + " " + entries.front()->type + " " +
               printable(entries.front()->remote, 60) + ": " + std::to_string(entries.size()) +
               " distinct result(s) on " + std::to_string(machines) + " machine(s)\n";
        for (const auto* e : entries) {
            char count[32];
            std::snprintf(count, sizeof count, "%6zu  ", e->machines.size());
            out += count + std::string("content ") + e->content_sha256.substr(0, 16);
            if (e->sample && e->sample->transcript) {
                const auto& t = *e->sample->transcript;
                out += "  exit " + (t.exit_code ? std::to_string(*t.exit_code) : std::string("-"));
                const std::string line = first_line(t.output.preview);
                if (!line.empty()) out += "  output: " + printable(line, 60);
            } else if (e->sample && e->sample->zip) {
                out += "  ZIP of " + std::to_string(e->sample->zip->entries.size()) + " file(s)";
            }
            out += "\n        on ";
            for (std::size_t i = 0; i < e->machines.size() && i < 5; ++i)
                out += (i ? ", " : "") + printable(e->machines[i]->name(), 64);
            if (e->machines.size() > 5)
                out += " and " + std::to_string(e->machines.size() - 5) + " more";
            out += "\n";
        }
    }
    print(out);
    return kExitOk;
}

}  // namespace lrsched::cli
