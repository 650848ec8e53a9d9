#include "runtime/logging.hpp"

#include "common/diagnostic.hpp"
#include "common/log_text.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace lrsched::runtime {

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
    logger->set_formatter(log.format == config::LogFormat::json ? json_log_formatter()
                                                                : text_log_formatter());
    logger->set_level(spdlog::level::from_str(log.level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    return true;
}

}  // namespace lrsched::runtime
