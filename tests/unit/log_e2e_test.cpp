// The daemon's log against hostile strings (issue 10, C11; SPEC §7): the real
// daemon sweeps a simulated fleet whose machine names carry CR LF and a
// forged log line, ESC sequences, NUL, and spaces with `state=done`, whose
// 400 answers carry such text, and whose token endpoint then refuses the
// daemon with such text. Every line of the log must still be one record of
// the text format, and no line may carry a `state=` field, or a machine
// name, that is not its own. The same with `log.format: json` into a log
// file: every line one JSON object, and no secret, token or link signature.
#include "support/daemon_fixture.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using lrsched::test::DaemonE2e;
using lrsched::test::kSimSecret;
using lrsched::test::session_log_lines;
using lrsched::test::SweepSpec;

namespace {

// The value of a quoted field, unescaped (\" \\ \n \r \t \xNN); `at` is on
// the opening quote and is left after the closing one. Throws on a quote
// never closed or an escape the daemon does not write.
std::string read_quoted(const std::string& line, std::size_t& at) {
    std::string out;
    for (++at; at < line.size(); ++at) {
        const char c = line[at];
        if (c == '"') {
            ++at;
            return out;
        }
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++at >= line.size()) break;
        switch (line[at]) {
            case '"':
            case '\\':
                out += line[at];
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'x':
                if (at + 2 >= line.size()) throw std::runtime_error("cut \\x escape");
                out += static_cast<char>(std::stoi(line.substr(at + 1, 2), nullptr, 16));
                at += 2;
                break;
            default:
                throw std::runtime_error("unknown escape in " + line);
        }
    }
    throw std::runtime_error("quote never closed in " + line);
}

// The `key=value` fields of a message: a key is [a-z_]+ at the start of a
// word; a value is bare (up to the next space) or quoted. Quoted text that
// is not a field's value (a server's message inside an error) is skipped
// whole: nothing inside quotes is a field.
std::vector<std::pair<std::string, std::string>> fields_of(const std::string& message) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t at = 0;
    while (at < message.size()) {
        if (message[at] == '"') {
            (void)read_quoted(message, at);
            continue;
        }
        const bool word_start = at == 0 || message[at - 1] == ' ';
        std::size_t end = at;
        while (word_start && end < message.size() &&
               ((message[end] >= 'a' && message[end] <= 'z') || message[end] == '_'))
            ++end;
        if (end == at || end >= message.size() || message[end] != '=') {
            ++at;
            continue;
        }
        const std::string key = message.substr(at, end - at);
        at = end + 1;
        if (at < message.size() && message[at] == '"') {
            out.emplace_back(key, read_quoted(message, at));
        } else {
            const std::size_t stop = std::min(message.find(' ', at), message.size());
            out.emplace_back(key, message.substr(at, stop - at));
            at = stop;
        }
    }
    return out;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

}  // namespace

TEST_CASE("log e2e: fields parse as the text format and nothing inside them starts a line") {
    const auto f = fields_of(
        "job=a run=1 machine=\"x\\r\\n state=done\" error=\"say \\\"state=x\\\"\" (\"a b=c\") "
        "state=queued");
    REQUIRE(f.size() == 5);
    CHECK(f[2] == std::pair<std::string, std::string>{"machine", "x\r\n state=done"});
    CHECK(f[3].second == "say \"state=x\"");
    CHECK(f[4] == std::pair<std::string, std::string>{"state", "queued"});
}

TEST_CASE("log e2e: hostile names, 400 messages and token errors cannot forge a log line") {
    SweepSpec spec;
    spec.machines = 30;
    spec.offline_fraction = "0";
    spec.never_online_fraction = "0";
    spec.busy_fraction = "0.3";  // 400 ActiveRequestAlreadyExists, with hostile text
    spec.sim_flags = {"--hostile-strings"};
    DaemonE2e e2e(spec);

    // The fleet as the simulator lists it: every machine's true name.
    const auto listing = e2e.sim_api("GET", "/api/machines");
    REQUIRE(listing.status == 200);
    std::map<std::string, std::string> name_of;  // machine id -> lower-case name
    const auto fleet = nlohmann::json::parse(listing.body);
    for (const auto& m : fleet.at("value"))
        name_of[m["id"].get<std::string>()] = lower(m["computerDnsName"].get<std::string>());
    REQUIRE(name_of.size() == 30);

    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    // The token endpoint refuses the next start (a wrong secret), with
    // hostile text in `error` and `error_description`.
    std::ofstream(e2e.dir() / "sim.secret", std::ios::trunc) << "not-the-secret\n";
    e2e.start_daemon();
    e2e.wait_until("the token refusal in the log",
                   [&] { return e2e.log().find("token request refused") != std::string::npos; });
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    const std::string log = e2e.log();
    // The hostile strings did reach the daemon, and it wrote them escaped.
    CHECK(log.find("\\r\\n2025-01-01t00:00:00.000z info job=sweep") !=
          std::string::npos);  // names are lower-cased
    CHECK(log.find("\\x1b[31m") != std::string::npos);
    CHECK(log.find("\\x00 state=done") != std::string::npos);
    CHECK(log.find("ActiveRequestAlreadyExists: \\\"") != std::string::npos);  // its message
    CHECK(log.find("AADSTS7000215") != std::string::npos);
    // The server's own text, in a 400's message and in the token error.
    CHECK(log.find("forged-by-server") != std::string::npos);
    CHECK(log.find("AADSTS7000215") < log.rfind("forged-by-server"));

    static const std::regex record(
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
        "(trace|debug|info|warning|error|critical) [\\x20-\\x7e]*");
    std::istringstream in(log);
    int lines = 0;
    int with_machine = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        INFO("line " << lines + 1 << ": " << line);
        REQUIRE(std::regex_match(line, record));
        const std::string message = line.substr(line.find(' ', line.find(' ') + 1) + 1);
        std::vector<std::pair<std::string, std::string>> fields;
        REQUIRE_NOTHROW(fields = fields_of(message));
        std::map<std::string, std::vector<std::string>> by_key;
        for (const auto& [k, v] : fields)
            by_key[k].push_back(v);
        CHECK(by_key["state"].size() <= 1);
        CHECK(by_key["machine_id"].size() <= 1);
        CHECK(by_key["machine"].size() <= 1);
        if (by_key["machine"].size() == 1 && by_key["machine_id"].size() == 1) {
            ++with_machine;
            const auto it = name_of.find(by_key["machine_id"][0]);
            REQUIRE(it != name_of.end());
            CHECK(by_key["machine"][0] == it->second);
        }
    }
    CHECK(with_machine > 0);
    // Every session line was written for a machine of the fleet, once per
    // stored transition: none was forged by a name.
    for (const auto& l : session_log_lines(log))
        CHECK(name_of.count(l.machine_id) == 1);
}

TEST_CASE("log e2e: format json into log.file writes one object per line and no secret") {
    SweepSpec spec;
    spec.machines = 20;
    spec.busy_fraction = "0.2";
    spec.sim_flags = {"--hostile-strings"};
    // Relative to the configuration's folder, the test's temp dir. Debug:
    // the most the daemon ever writes.
    spec.log = "{level: debug, format: json, file: daemon-json.log}";
    DaemonE2e e2e(spec);
    e2e.start_daemon();
    e2e.wait_for_sweep_end();
    CHECK(e2e.stop_daemon(SIGTERM) == 0);

    std::ifstream in(e2e.dir() / "daemon-json.log", std::ios::binary);
    REQUIRE(in.good());
    std::stringstream text;
    text << in.rdbuf();
    const std::string log = text.str();
    REQUIRE(!log.empty());
    CHECK(log.back() == '\n');
    // The secret, the bearer tokens and the result links' signatures.
    CHECK(log.find(kSimSecret) == std::string::npos);
    CHECK(log.find("sig=") == std::string::npos);
    CHECK(log.find("Bearer") == std::string::npos);
    CHECK(log.find("eyJ") == std::string::npos);  // a JWT's header, base64

    static const std::regex time(
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z");
    std::istringstream lines(log);
    int n = 0;
    int with_job = 0;
    bool stop_line = false;
    for (std::string line; std::getline(lines, line); ++n) {
        INFO("line " << n + 1 << ": " << line);
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(line));
        REQUIRE(j.is_object());
        REQUIRE(j["time"].is_string());
        CHECK(std::regex_match(j["time"].get<std::string>(), time));
        REQUIRE(j["level"].is_string());
        REQUIRE(j["message"].is_string());
        const std::string message = j["message"];
        // Each field of the message is a key with the same value (the
        // first of a repeated key; invalid UTF-8 there became U+FFFD, so
        // only ASCII values are compared byte for byte).
        std::set<std::string> seen;
        for (const auto& [k, v] : fields_of(message)) {
            if (!seen.insert(k).second) continue;
            const bool reserved = k == "time" || k == "level" || k == "message";
            const std::string key = reserved ? "field_" + k : k;
            REQUIRE(j.contains(key));
            if (std::all_of(v.begin(), v.end(), [](char c) { return c > 0; })) CHECK(j[key] == v);
        }
        if (j.contains("job")) {
            ++with_job;
            CHECK(j["job"] == "sweep");
            CHECK(message.find("job=sweep") != std::string::npos);
        }
        if (message.find("at stop: ") != std::string::npos) {
            stop_line = true;
            CHECK(j["tenant"] == "sim");
        }
    }
    CHECK(n > 20);
    CHECK(with_job > 0);
    CHECK(stop_line);
}
