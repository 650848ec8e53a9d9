#include "common/error.hpp"

namespace lrsched {
namespace {

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "lrsched"; }

    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
            case Errc::ok:
                return "success";
            case Errc::invalid_input:
                return "invalid input";
            case Errc::limit_exceeded:
                return "limit exceeded";
            case Errc::io_error:
                return "I/O error";
            case Errc::permission_denied:
                return "permission denied";
            case Errc::not_found:
                return "not found";
            case Errc::database_error:
                return "database error";
            case Errc::schema_mismatch:
                return "schema version mismatch";
            case Errc::illegal_transition:
                return "illegal session state transition";
            case Errc::connect_failed:
                return "connection failed";
            case Errc::tls_error:
                return "TLS error";
            case Errc::timeout:
                return "timed out";
            case Errc::no_response:
                return "connection lost before any response";
            case Errc::response_truncated:
                return "response truncated";
            case Errc::protocol_error:
                return "HTTP protocol error";
            case Errc::server_error:
                return "server error";
            case Errc::cancelled:
                return "cancelled";
            case Errc::internal_error:
                return "internal error";
        }
        return "unknown lrsched error";
    }
};

}  // namespace

const std::error_category& lrsched_category() noexcept {
    static const Category category;
    return category;
}

}  // namespace lrsched
