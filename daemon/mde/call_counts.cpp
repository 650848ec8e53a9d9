#include "mde/call_counts.hpp"

namespace lrsched::mde {

std::string_view to_string(Endpoint e) noexcept {
    switch (e) {
        case Endpoint::token:
            return "token";
        case Endpoint::machines:
            return "machines";
        case Endpoint::runliveresponse:
            return "runliveresponse";
        case Endpoint::machineactions:
            return "machineactions";
        case Endpoint::machineaction:
            return "machineaction";
        case Endpoint::getliveresponseresultdownloadlink:
            return "getliveresponseresultdownloadlink";
        case Endpoint::download:
            return "download";
        case Endpoint::cancel:
            return "cancel";
        case Endpoint::library_list:
            return "library_list";
        case Endpoint::library_upload:
            return "library_upload";
    }
    return "unknown";
}

std::string_view throttle_cause(Endpoint e) noexcept {
    switch (e) {
        case Endpoint::runliveresponse:
            return "submit_window";
        case Endpoint::token:
        case Endpoint::download:
            return "other";
        default:
            return "read_window";
    }
}

void CallCounts::answered(Endpoint e, int status) {
    ++calls_[std::string(to_string(e))][std::to_string(status)];
    if (status == 429) ++throttled_[std::string(throttle_cause(e))];
}

void CallCounts::no_answer(Endpoint e) {
    ++calls_[std::string(to_string(e))]["error"];
}

}  // namespace lrsched::mde
