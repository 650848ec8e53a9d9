// What may go into a log line (common/log_text.hpp, issue 10 C11): a value
// from outside is one field whatever it holds, and the formatter escapes
// any control byte a call site let through. The JSON format (issue 13)
// reads the fields back out: one object per line whatever the message.
#include "common/log_text.hpp"

#include "common/diagnostic.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <regex>
#include <sstream>
#include <string>

using lrsched::escape_log_message;
using lrsched::log_error;
using lrsched::log_value;
using lrsched::quote_value;
using namespace std::string_literals;

TEST_CASE("log_value: plain values stay bare, anything else is quoted and escaped") {
    CHECK(log_value("ws-00001.sim.contoso.test") == "ws-00001.sim.contoso.test");
    CHECK(log_value("C:/x@y:1_2") == "C:/x@y:1_2");
    CHECK(log_value("") == "\"\"");
    CHECK(log_value("a b") == "\"a b\"");
    CHECK(log_value("ws-1\r\n2025-01-01T00:00:00.000Z info state=done") ==
          "\"ws-1\\r\\n2025-01-01T00:00:00.000Z info state=done\"");
    CHECK(log_value("\x1b[31mred\x1b[0m") == "\"\\x1b[31mred\\x1b[0m\"");
    CHECK(log_value("nul\0 state=done"s) == "\"nul\\x00 state=done\"");
    CHECK(log_value("tab\there") == "\"tab\\there\"");
    CHECK(log_value("q\"uote\\") == "\"q\\\"uote\\\\\"");
    CHECK(log_value("caf\xc3\xa9") == "\"caf\\xc3\\xa9\"");
    CHECK(log_value("C:\\Windows") == "\"C:\\\\Windows\"");
}

TEST_CASE("log_value: a long value is cut, with a marker giving its size") {
    const std::string name(6000, 'a');
    const std::string v = log_value(name);
    CHECK(v == "\"" + std::string(lrsched::kLogValueMax, 'a') + "...(6000 bytes)\"");
    CHECK(log_value(std::string(lrsched::kLogValueMax, 'b')) ==
          std::string(lrsched::kLogValueMax, 'b'));
    CHECK(quote_value("abcdef", 3) == "\"abc...(6 bytes)\"");
    const std::string message = log_error(std::string(5000, 'm'));
    CHECK(message.size() < 1100);
    CHECK(message.find("...(5000 bytes)\"") != std::string::npos);
}

TEST_CASE("log_error: a message is always one quoted value") {
    CHECK(log_error("disk full") == "\"disk full\"");
    CHECK(log_error("x state=done\n") == "\"x state=done\\n\"");
}

TEST_CASE("escape_log_message: every byte outside printable ASCII is escaped, the rest kept") {
    CHECK(escape_log_message("plain \"quoted\\\" text") == "plain \"quoted\\\" text");
    CHECK(escape_log_message("a\r\nb\tc\x1b[2J\x7f\0d"s) == "a\\r\\nb\\tc\\x1b[2J\\x7f\\x00d");
    CHECK(escape_log_message("\xe9t\xc3\xa9") == "\\xe9t\\xc3\\xa9");
    CHECK(lrsched::is_printable_ascii("job=x run=1 machine=\"a b\""));
    CHECK_FALSE(lrsched::is_printable_ascii("a\nb"));
    CHECK_FALSE(lrsched::is_printable_ascii("\xc3\xa9"));
}

TEST_CASE("text log formatter: a message a call site did not escape is still one line") {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    spdlog::logger logger("t", sink);
    logger.set_formatter(lrsched::text_log_formatter());
    logger.info("machine={} state=queued", "ws-1\r\n2025-01-01T00:00:00.000Z info state=done");
    logger.warn("{}", "\x1b[31mred\x1b[0m\0"s);
    logger.error("plain");
    const std::string text = out.str();
    static const std::regex record(
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
        "(info|warning|error) [\\x20-\\x7e]*");
    std::istringstream in(text);
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        INFO(line);
        CHECK(std::regex_match(line, record));
    }
    CHECK(lines == 3);
    CHECK(text.find(
              "info machine=ws-1\\r\\n2025-01-01T00:00:00.000Z info state=done state=queued\n") !=
          std::string::npos);
    CHECK(text.find("warning \\x1b[31mred\\x1b[0m\\x00\n") != std::string::npos);
    CHECK(text.find("error plain\n") != std::string::npos);
    // A clone (spdlog clones formatters per sink) escapes as well.
    auto clone = lrsched::text_log_formatter()->clone();
    CHECK(clone != nullptr);
}

TEST_CASE("log_fields: bare and quoted values read back, quoted text is never a field") {
    const std::string machine = "ws-1\r\n2025 info state=done \"x\" \\ \xff";
    const std::string message = "job=sweep run=12 machine=" + log_value(machine) +
                                " error=" + log_error("say \"state=x\"") +
                                " (\"a b=c\") bytes=42 state=queued";
    const auto f = lrsched::log_fields(message);
    REQUIRE(f.size() == 6);
    CHECK(f[0] == std::pair<std::string, std::string>{"job", "sweep"});
    CHECK(f[1] == std::pair<std::string, std::string>{"run", "12"});
    CHECK(f[2] == std::pair<std::string, std::string>{"machine", machine});
    CHECK(f[3] == std::pair<std::string, std::string>{"error", "say \"state=x\""});
    CHECK(f[4] == std::pair<std::string, std::string>{"bytes", "42"});
    CHECK(f[5] == std::pair<std::string, std::string>{"state", "queued"});
    // A key starts a word; "a=b" inside a word, URLs' `?x=y`, are no fields.
    CHECK(lrsched::log_fields("GET /api/x?top=1 tenant=t").size() == 1);
    // A quote never closed (a cut message) ends the fields, without a throw.
    CHECK(lrsched::log_fields("job=a error=\"never closed").size() == 1);
}

TEST_CASE("json_log_record: one object, the whole message, each field as a key") {
    const std::string message = "tenant=" + log_value("con\"toso") +
                                " job=sweep machine=" + log_value("a\nb") + " time=later job=again";
    const std::string line = lrsched::json_log_record(1'700'000'000'123, "info", message);
    CHECK(line.find('\n') == std::string::npos);
    const auto j = nlohmann::json::parse(line);
    CHECK(j["time"] == "2023-11-14T22:13:20.123Z");
    CHECK(j["level"] == "info");
    CHECK(j["message"] == message);
    CHECK(j["tenant"] == "con\"toso");
    CHECK(j["job"] == "sweep");  // the first of a repeated key
    CHECK(j["machine"] == "a\nb");
    CHECK(j["field_time"] == "later");
    // The keys come in order: time, level, message first.
    CHECK(line.rfind("{\"time\":", 0) == 0);
}

TEST_CASE("json_log_record: invalid UTF-8 and control bytes leave one printable line") {
    const std::string message =
        "raw \xff\xfe\x1b[2J\r\nnext machine=\"\\xc3\\x28\" ok=caf\xc3\xa9"s;
    const std::string line = lrsched::json_log_record(0, "warning", message);
    CHECK(lrsched::is_printable_ascii(line));
    const auto j = nlohmann::json::parse(line);
    CHECK(j["message"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
    CHECK(j["message"].get<std::string>().find("\x1b[2J\r\nnext") != std::string::npos);
    CHECK(j["machine"] == "\xef\xbf\xbd(");
    CHECK(j["ok"] == "caf\xc3\xa9");
}

TEST_CASE("json log formatter: every record a line of JSON, whatever the call site wrote") {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    spdlog::logger logger("t", sink);
    logger.set_formatter(lrsched::json_log_formatter()->clone());
    logger.info("job={} state=queued", "x\r\n{\"level\":\"error\"}");
    logger.error("plain");
    std::istringstream in(out.str());
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        INFO(line);
        const auto j = nlohmann::json::parse(line);
        CHECK(j.contains("time"));
        CHECK(j.contains("message"));
        CHECK(j["level"] == (lines == 0 ? "info" : "error"));
    }
    CHECK(lines == 2);
}
