// What may go into a log line (common/log_text.hpp, issue 10 C11): a value
// from outside is one field whatever it holds, and the formatter escapes
// any control byte a call site let through.
#include "common/log_text.hpp"

#include "common/diagnostic.hpp"

#include <doctest/doctest.h>
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
