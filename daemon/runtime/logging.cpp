#include "runtime/logging.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace lrsched::runtime {

namespace {

char syslog_priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::critical:
            return '2';
        case spdlog::level::err:
            return '3';
        case spdlog::level::warn:
            return '4';
        case spdlog::level::info:
            return '6';
        default:
            return '7';  // debug, trace
    }
}

class JournalFormatter final : public spdlog::formatter {
  public:
    explicit JournalFormatter(std::unique_ptr<spdlog::formatter> inner)
        : inner_(std::move(inner)) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const char prefix[] = {'<', syslog_priority(msg.level), '>'};
        dest.append(prefix, prefix + sizeof prefix);
        inner_->format(msg, dest);
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JournalFormatter>(inner_->clone());
    }

  private:
    std::unique_ptr<spdlog::formatter> inner_;
};

bool stderr_is_journal() {
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return is_journal_stream(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

}  // namespace

bool is_journal_stream(const char* journal_stream,
                       unsigned long long stderr_dev,
                       unsigned long long stderr_ino) {
    if (journal_stream == nullptr) return false;
    const char* end = journal_stream + std::strlen(journal_stream);
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    auto r = std::from_chars(journal_stream, end, dev);
    if (r.ec != std::errc{} || r.ptr == end || *r.ptr != ':') return false;
    r = std::from_chars(r.ptr + 1, end, ino);
    if (r.ec != std::errc{} || r.ptr != end) return false;
    return dev == stderr_dev && ino == stderr_ino;
}

std::unique_ptr<spdlog::formatter> journal_formatter(std::unique_ptr<spdlog::formatter> inner) {
    return std::make_unique<JournalFormatter>(std::move(inner));
}

bool set_up_logging(const config::LogConfig& log) {
    std::shared_ptr<spdlog::logger> logger;
    try {
        // The previous logger of that name (a test setting up twice) goes
        // first: spdlog refuses a second logger under one name.
        spdlog::drop("lrsched");
        if (log.file.empty()) {
            logger = spdlog::stderr_logger_st("lrsched");
        } else {
            // Rotates by size only, never at start-up: a restart appends
            // to the file it left.
            logger = spdlog::rotating_logger_st("lrsched", log.file,
                                                static_cast<std::size_t>(log.max_size),
                                                static_cast<std::size_t>(log.max_files));
        }
    } catch (const spdlog::spdlog_ex& e) {
        std::fprintf(stderr, "lrsched: log file %s: %s\n", quote_value(log.file, 200).c_str(),
                     escape_log_message(e.what()).c_str());
        return false;
    }
    // Either formatter escapes what any call site let through
    // (log_text.hpp): no message can start a new line or send a terminal
    // sequence.
    auto formatter =
        log.format == config::LogFormat::json ? json_log_formatter() : text_log_formatter();
    if (log.file.empty() && stderr_is_journal())
        formatter = journal_formatter(std::move(formatter));
    logger->set_formatter(std::move(formatter));
    logger->set_level(spdlog::level::from_str(log.level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    return true;
}

}  // namespace lrsched::runtime
