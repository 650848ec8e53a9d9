// Comparing two runs and stacking one; see run_diff.hpp.
#include "evidence/run_diff.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <tuple>

namespace lrsched::evidence {
namespace {

using nlohmann::json;

// What differs between two results of the same command, in words.
std::string what_differs(const ResultFile& a, const ResultFile& b) {
    if (a.transcript && b.transcript) {
        std::vector<std::string> parts;
        if (a.transcript->exit_code != b.transcript->exit_code) parts.emplace_back("exit code");
        if (a.transcript->output.sha256 != b.transcript->output.sha256)
            parts.emplace_back("output");
        if (a.transcript->errors.sha256 != b.transcript->errors.sha256)
            parts.emplace_back("errors");
        std::string out;
        for (const auto& p : parts)
            out += (out.empty() ? "" : ", ") + p;
        return out.empty() ? "content" : out;
    }
    if (a.zip && b.zip) return "files inside the ZIP";
    return "bytes";
}

std::map<std::int64_t, const ResultFile*> by_index(const ResultRow& r) {
    std::map<std::int64_t, const ResultFile*> out;
    for (const ResultFile& f : r.files)
        out.emplace(f.index, &f);
    return out;
}

MachineChange compare(const ResultRow& a, const ResultRow& b) {
    MachineChange m;
    m.machine_id = b.machine_id;
    m.name = b.name();
    m.a = &a;
    m.b = &b;
    if (b.state != "done") {
        m.change = Change::failed;
        m.why = "run B ended " + b.state + (b.last_error.empty() ? "" : ": " + b.last_error);
        return m;
    }
    const auto fa = by_index(a);
    const auto fb = by_index(b);
    for (const auto& [index, rb] : fb) {
        const auto it = fa.find(index);
        if (it == fa.end()) {
            m.results.push_back({index, rb->type, rb->remote, "only in run B", nullptr, rb});
        } else if (it->second->content_sha256 != rb->content_sha256) {
            m.results.push_back(
                {index, rb->type, rb->remote, what_differs(*it->second, *rb), it->second, rb});
        }
    }
    for (const auto& [index, ra] : fa)
        if (!fb.count(index))
            m.results.push_back({index, ra->type, ra->remote, "only in run A", ra, nullptr});
    std::sort(m.results.begin(), m.results.end(),
              [](const ResultChange& x, const ResultChange& y) { return x.index < y.index; });
    if (m.results.empty()) {
        m.change = Change::unchanged;
    } else {
        m.change = Change::changed;
        if (a.state != "done") m.why = "run A ended " + a.state;
    }
    return m;
}

json file_json(const ResultFile* f) {
    if (!f) return nullptr;
    return {{"file", f->file}, {"sha256", f->sha256}, {"content_sha256", f->content_sha256}};
}

}  // namespace

std::string_view to_string(Change c) noexcept {
    switch (c) {
        case Change::new_:
            return "new";
        case Change::gone:
            return "gone";
        case Change::unchanged:
            return "unchanged";
        case Change::changed:
            return "changed";
        case Change::failed:
            return "failed";
    }
    return "unchanged";
}

RunDiff diff_runs(const RunResults& a, const RunResults& b) {
    RunDiff d;
    d.run_a = a.run;
    d.run_b = b.run;
    std::map<std::string, const ResultRow*> in_a;
    for (const ResultRow& r : a.rows)
        in_a.emplace(r.machine_id, &r);
    std::map<std::string, const ResultRow*> in_b;
    for (const ResultRow& r : b.rows)
        in_b.emplace(r.machine_id, &r);
    for (const auto& [id, rb] : in_b) {
        const auto it = in_a.find(id);
        if (it == in_a.end()) {
            MachineChange m;
            m.machine_id = id;
            m.name = rb->name();
            m.change = Change::new_;
            m.b = rb;
            if (rb->state != "done") m.why = "run B ended " + rb->state;
            d.machines.push_back(std::move(m));
        } else {
            d.machines.push_back(compare(*it->second, *rb));
        }
    }
    for (const auto& [id, ra] : in_a) {
        if (in_b.count(id)) continue;
        MachineChange m;
        m.machine_id = id;
        m.name = ra->name();
        m.change = Change::gone;
        m.a = ra;
        d.machines.push_back(std::move(m));
    }
    std::sort(d.machines.begin(), d.machines.end(),
              [](const MachineChange& x, const MachineChange& y) {
                  return std::tie(x.name, x.machine_id) < std::tie(y.name, y.machine_id);
              });
    for (const MachineChange& m : d.machines)
        ++d.counts[static_cast<std::size_t>(m.change)];
    return d;
}

json to_json(const RunDiff& d, const std::string& job) {
    json summary = json::object();
    for (const Change c : kAllChanges)
        summary[std::string(to_string(c))] = d.count(c);
    json machines = json::array();
    for (const MachineChange& m : d.machines) {
        json results = json::array();
        for (const ResultChange& r : m.results)
            results.push_back({{"index", r.index},
                               {"type", r.type},
                               {"remote", r.remote},
                               {"what", r.what},
                               {"a", file_json(r.a)},
                               {"b", file_json(r.b)}});
        json j = {{"machine_id", m.machine_id},
                  {"name", m.name},
                  {"change", to_string(m.change)},
                  {"results", std::move(results)}};
        if (!m.why.empty()) j["why"] = m.why;
        machines.push_back(std::move(j));
    }
    return {{"job", job},
            {"run_a", d.run_a},
            {"run_b", d.run_b},
            {"summary", std::move(summary)},
            {"machines", std::move(machines)}};
}

std::vector<StackEntry> stack_results(const RunResults& run) {
    std::map<std::pair<std::int64_t, std::string>, StackEntry> groups;
    for (const ResultRow& r : run.rows) {
        if (r.state != "done") continue;
        for (const ResultFile& f : r.files) {
            StackEntry& e = groups[{f.index, f.content_sha256}];
            if (!e.sample) {
                e.index = f.index;
                e.type = f.type;
                e.remote = f.remote;
                e.content_sha256 = f.content_sha256;
                e.sample = &f;
            }
            e.machines.push_back(&r);
        }
    }
    std::vector<StackEntry> out;
    out.reserve(groups.size());
    for (auto& [key, e] : groups)
        out.push_back(std::move(e));
    std::stable_sort(out.begin(), out.end(), [](const StackEntry& x, const StackEntry& y) {
        return x.machines.size() < y.machines.size();
    });
    return out;
}

}  // namespace lrsched::evidence
