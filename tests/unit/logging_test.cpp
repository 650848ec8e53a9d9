// The daemon's log set-up (runtime/logging.hpp, issue 13 item 6): a log
// file rotates by size into at most max_files older files, each record one
// line in the format asked for. Each test puts the default logger back.
#include "runtime/logging.hpp"

#include "common/log_text.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <string>

using lrsched::test::TempDir;

namespace {

// Restores the process's default logger when the test ends.
struct KeepDefaultLogger {
    std::shared_ptr<spdlog::logger> saved = spdlog::default_logger();
    ~KeepDefaultLogger() {
        spdlog::drop("lrsched");
        spdlog::set_default_logger(saved);
    }
};

}  // namespace

TEST_CASE("logging: log.file rotates at max_size and keeps max_files older files") {
    KeepDefaultLogger keep;
    TempDir dir;
    lrsched::config::LogConfig log;
    log.file = (dir.path() / "lrsched.log").string();
    log.format = lrsched::config::LogFormat::json;
    log.max_size = lrsched::config::kMinLogSize;
    log.max_files = 2;
    REQUIRE(lrsched::runtime::set_up_logging(log));
    const std::string filler(900, 'x');
    for (int i = 0; i < 400; ++i)  // ~400 KB: several rotations
        spdlog::info("job=sweep run={} filler={}", i, filler);
    spdlog::default_logger()->flush();

    for (const char* name : {"lrsched.log", "lrsched.1.log", "lrsched.2.log"}) {
        CAPTURE(name);
        const auto path = dir.path() / name;
        REQUIRE(std::filesystem::exists(path));
        CHECK(std::filesystem::file_size(path) <= log.max_size);
        std::ifstream in(path);
        int lines = 0;
        for (std::string line; std::getline(in, line); ++lines) {
            const auto j = nlohmann::json::parse(line);
            CHECK(j["job"] == "sweep");
        }
        CHECK(lines > 0);
    }
    CHECK_FALSE(std::filesystem::exists(dir.path() / "lrsched.3.log"));
}

TEST_CASE("logging: a log file that cannot be opened is refused, naming it") {
    KeepDefaultLogger keep;
    TempDir dir;
    lrsched::config::LogConfig log;
    log.file = (dir.path() / "no-such-dir" / "x" / "lrsched.log").string();
    std::filesystem::create_directories(dir.path() / "no-such-dir");
    // A file where the directory should be: spdlog cannot create it.
    std::ofstream(dir.path() / "no-such-dir" / "x") << "a file";
    CHECK_FALSE(lrsched::runtime::set_up_logging(log));
}

TEST_CASE("logging: JOURNAL_STREAM is the journal only when it names stderr's device and inode") {
    using lrsched::runtime::is_journal_stream;
    CHECK(is_journal_stream("8:1234", 8, 1234));
    CHECK_FALSE(is_journal_stream(nullptr, 8, 1234));
    CHECK_FALSE(is_journal_stream("8:1235", 8, 1234));  // stderr redirected elsewhere
    CHECK_FALSE(is_journal_stream("9:1234", 8, 1234));
    for (const char* bad : {"", ":", "8:", ":1234", "8:1234x", "8;1234", "-8:1234", "8:1234:5",
                            "99999999999999999999999:1"})
        CHECK_MESSAGE(!is_journal_stream(bad, 8, 1234), bad);
}

TEST_CASE("logging: for the journal, each record starts with its syslog priority") {
    spdlog::memory_buf_t out;
    auto f = lrsched::runtime::journal_formatter(lrsched::text_log_formatter());
    const std::pair<spdlog::level::level_enum, const char*> cases[] = {
        {spdlog::level::critical, "<2>"}, {spdlog::level::err, "<3>"},
        {spdlog::level::warn, "<4>"},     {spdlog::level::info, "<6>"},
        {spdlog::level::debug, "<7>"},    {spdlog::level::trace, "<7>"}};
    for (const auto& [level, prefix] : cases) {
        out.clear();
        const spdlog::details::log_msg msg("lrsched", level, "job=a state=done\nforged");
        f->format(msg, out);
        const std::string line(out.data(), out.size());
        CHECK(line.rfind(prefix, 0) == 0);
        CHECK(line.find("job=a state=done") != std::string::npos);
        // the wrapped formatter still escapes: one line, whatever the message
        CHECK(line.find('\n') == line.size() - 1);
    }
}
