// diff_runs and stack_results (evidence/run_diff.hpp) on hand-made tables:
// each of the five words, which result changed and why, the JSON summary, and
// stacking rarest first.
#include "evidence/run_diff.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using lrsched::evidence::Change;
using lrsched::evidence::diff_runs;
using lrsched::evidence::ResultFile;
using lrsched::evidence::ResultRow;
using lrsched::evidence::RunResults;
using lrsched::evidence::stack_results;

namespace {

ResultFile result(std::int64_t index, const std::string& type, const std::string& content) {
    ResultFile f;
    f.index = index;
    f.type = type;
    f.remote = type == "RunScript" ? "collect.ps1" : "C:\\x.log";
    f.file = "m/" + std::to_string(index);
    f.sha256 = std::string(64, 'f');  // the packaging: never compared
    f.content_sha256 = content;
    return f;
}

ResultRow row(const std::string& id, const std::string& state, std::vector<ResultFile> files) {
    ResultRow r;
    r.machine_id = id;
    r.computer_dns_name = id + ".contoso.local";
    r.state = state;
    r.files = std::move(files);
    return r;
}

}  // namespace

TEST_CASE("diff: new, gone, unchanged, changed and failed machines, by what they produced") {
    RunResults a;
    a.run = 1;
    a.rows = {row("m1", "done", {result(0, "RunScript", "x"), result(1, "GetFile", "z")}),
              row("m2", "done", {result(0, "RunScript", "x")}),
              row("m3", "done", {result(0, "RunScript", "x")}),
              row("m4", "done", {result(0, "RunScript", "x")}), row("m5", "expired", {})};
    RunResults b;
    b.run = 2;
    b.rows = {row("m1", "done", {result(0, "RunScript", "x"), result(1, "GetFile", "z")}),
              row("m2", "done", {result(0, "RunScript", "y")}), row("m3", "failed", {}),
              row("m5", "done", {result(0, "RunScript", "x")}),
              row("m6", "done", {result(0, "RunScript", "x")})};
    b.rows[0].files[0].sha256 = std::string(64, '0');  // other bytes, same content

    const auto d = diff_runs(a, b);
    REQUIRE(d.machines.size() == 6);
    const auto change_of = [&](const std::string& id) {
        for (const auto& m : d.machines)
            if (m.machine_id == id) return m;
        FAIL("no machine " << id);
        return d.machines.front();
    };
    CHECK(change_of("m1").change == Change::unchanged);
    CHECK(change_of("m2").change == Change::changed);
    REQUIRE(change_of("m2").results.size() == 1);
    CHECK(change_of("m2").results[0].index == 0);
    CHECK(change_of("m3").change == Change::failed);
    CHECK(change_of("m3").why == "run B ended failed");
    CHECK(change_of("m4").change == Change::gone);
    CHECK(change_of("m5").change == Change::changed);  // no results in A, results in B
    CHECK(change_of("m5").why == "run A ended expired");
    CHECK(change_of("m6").change == Change::new_);
    for (const Change c : lrsched::evidence::kAllChanges)
        CHECK(d.count(c) == (c == Change::changed ? 2 : 1));

    const auto j = to_json(d, "sweep");
    CHECK(j["summary"] ==
          nlohmann::json{{"new", 1}, {"gone", 1}, {"unchanged", 1}, {"changed", 2}, {"failed", 1}});
    CHECK(j["machines"].size() == 6);
}

TEST_CASE("diff: a result only in one run is a change, named as such") {
    RunResults a;
    a.rows = {row("m1", "done", {result(0, "RunScript", "x"), result(1, "GetFile", "z")})};
    RunResults b;
    b.rows = {row("m1", "done", {result(0, "RunScript", "x")})};
    const auto d = diff_runs(a, b);
    REQUIRE(d.machines.size() == 1);
    CHECK(d.machines[0].change == Change::changed);
    REQUIRE(d.machines[0].results.size() == 1);
    CHECK(d.machines[0].results[0].what == "only in run A");
}

TEST_CASE("stack: identical results counted across machines, rarest first, done sessions only") {
    RunResults r;
    r.rows = {row("m1", "done", {result(0, "RunScript", "common")}),
              row("m2", "done", {result(0, "RunScript", "common")}),
              row("m3", "done", {result(0, "RunScript", "odd")}),
              row("m4", "done", {result(0, "RunScript", "common")}),
              row("m5", "failed", {result(0, "RunScript", "broken")})};
    const auto s = stack_results(r);
    REQUIRE(s.size() == 2);
    CHECK(s[0].content_sha256 == "odd");
    REQUIRE(s[0].machines.size() == 1);
    CHECK(s[0].machines[0]->machine_id == "m3");
    CHECK(s[1].content_sha256 == "common");
    CHECK(s[1].machines.size() == 3);
}
