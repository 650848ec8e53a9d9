// The client's call counts (mde/call_counts.hpp): each answer counted under
// its endpoint and code, and each 429 under the limit it hit.
#include "mde/call_counts.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using lrsched::mde::CallCounts;
using lrsched::mde::Endpoint;

TEST_CASE("call counts: by endpoint and code, no answer as error, 429s by cause") {
    CallCounts c;
    c.answered(Endpoint::runliveresponse, 201);
    c.answered(Endpoint::runliveresponse, 429);
    c.answered(Endpoint::machineactions, 429);
    c.answered(Endpoint::getliveresponseresultdownloadlink, 429);
    c.answered(Endpoint::token, 429);
    c.answered(Endpoint::machineactions, 200);
    c.answered(Endpoint::machineactions, 200);
    c.no_answer(Endpoint::download);
    CHECK(c.calls().at("runliveresponse").at("201") == 1);
    CHECK(c.calls().at("machineactions").at("200") == 2);
    CHECK(c.calls().at("download").at("error") == 1);
    CHECK(c.throttled().at("submit_window") == 1);
    CHECK(c.throttled().at("read_window") == 2);
    CHECK(c.throttled().at("other") == 1);
}

TEST_CASE("call counts: the endpoints' names are the fixed set the metrics document") {
    std::set<std::string> names;
    for (const Endpoint e : lrsched::mde::kEndpoints)
        names.insert(std::string(to_string(e)));
    CHECK(names == std::set<std::string>{"token", "machines", "runliveresponse", "machineactions",
                                         "machineaction", "getliveresponseresultdownloadlink",
                                         "download", "cancel", "library_list", "library_upload"});
    CHECK(throttle_cause(Endpoint::cancel) == "read_window");
    CHECK(throttle_cause(Endpoint::library_upload) == "read_window");
    CHECK(throttle_cause(Endpoint::download) == "other");
}
