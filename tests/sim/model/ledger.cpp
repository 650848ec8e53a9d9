// The file-backed ledger: fopen("a"), one fflush per line (see ledger.hpp).
#include "sim/model/ledger.hpp"

#include <cerrno>
#include <cstring>

namespace lrsched::sim {

Result<std::unique_ptr<FileLedger>> FileLedger::open(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "ae");
    if (f == nullptr) return Error(Errc::io_error, "ledger " + path + ": " + std::strerror(errno));
    return std::unique_ptr<FileLedger>(new FileLedger(f));
}

FileLedger::~FileLedger() {
    std::fclose(file_);
}

void FileLedger::append(const nlohmann::json& line) {
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
}

}  // namespace lrsched::sim
