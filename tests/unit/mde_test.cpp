#include "api/mde.hpp"

#include "sessions/tag.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace lrsched::api;
using namespace lrsched::sessions;
using lrsched::api::Command;
using lrsched::api::CommandType;

TEST_CASE("correlation tags are found again in whatever comment carries them") {
    const std::string tag = correlation_tag("0123456789abcdef", 42, 3);
    CHECK(tag == "lrsched:0123456789abcdef:42:3");
    const auto found = find_tag("IR-2291 sweep [" + tag + "] (edited by hand)");
    REQUIRE(found.has_value());
    CHECK(found->install_id == "0123456789abcdef");
    CHECK(found->session_id == 42);
    CHECK(found->submission == 3);
    CHECK(action_comment("IR-2291", tag) == "IR-2291 [" + tag + "]");
    CHECK(action_comment("", tag) == "[" + tag + "]");
    CHECK_FALSE(find_tag("no tag here").has_value());
    CHECK_FALSE(find_tag("lrsched:XYZ:1:2").has_value());
    CHECK_FALSE(find_tag("lrsched:abc:x:2").has_value());
    CHECK(find_tag("lrsched: lrsched:ab:7:1")->session_id == 7);
}

TEST_CASE("the runliveresponse body has the documented casing and order") {
    const std::vector<Command> cmds = {
        {CommandType::PutFile, "tool.exe", std::nullopt},
        {CommandType::RunScript, "run.ps1", std::string("-Out C:\\t\\x.csv")},
        {CommandType::RunScript, "plain.ps1", std::nullopt},
        {CommandType::GetFile, "C:\\t\\x.csv", std::nullopt},
    };
    const auto body = nlohmann::json::parse(run_live_response_body(cmds, "c [t]"));
    const auto expected = nlohmann::json::parse(R"({
      "Commands": [
        {"type": "PutFile", "params": [{"key": "FileName", "value": "tool.exe"}]},
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": "run.ps1"}, {"key": "Args", "value": "-Out C:\\t\\x.csv"}]},
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": "plain.ps1"}]},
        {"type": "GetFile", "params": [{"key": "Path", "value": "C:\\t\\x.csv"}]}
      ],
      "Comment": "c [t]"
    })");
    CHECK(body == expected);
}

TEST_CASE("OData literals and query components are escaped") {
    CHECK(odata_string("O'Brien's PC") == "'O''Brien''s PC'");
    CHECK(url_encode("machineTags/any(tag: tag eq 'a b')") ==
          "machineTags%2Fany%28tag%3A%20tag%20eq%20%27a%20b%27%29");
}

TEST_CASE("action statuses are read in both documented spellings, any case") {
    CHECK(parse_action_status("Cancelled") == ActionStatus::cancelled);
    CHECK(parse_action_status("Canceled") == ActionStatus::cancelled);
    CHECK(parse_action_status("inprogress") == ActionStatus::in_progress);
    CHECK(parse_action_status("TimeOut") == ActionStatus::timed_out);
    CHECK(parse_action_status("Exploded") == ActionStatus::unknown);
}

TEST_CASE("a machine action entity is parsed, with either last-update field name") {
    const char* entity =
        R"({"@odata.context":"x","id":"7f1e1c52-0000-4e7c-9bd3-2d3d7f8e9a10","type":"LiveResponse",
      "requestor":"app","requestorComment":"c [lrsched:ab:1:1]","status":"Pending",
      "machineId":"1E5BC9D7E413DDD7902C2932E418702B84D0CC07","computerDnsName":"dc01",
      "creationDateTimeUtc":"2026-11-22T10:00:00Z","lastUpdateTimeUtc":"2026-11-22T10:01:00Z","errorHResult":0,
      "commands":[{"index":0,"startTime":null,"endTime":null,"commandStatus":"Created","errors":[],
                   "command":{"type":"RunScript","params":[{"key":"ScriptName","value":"a.ps1"}]}},
                  {"index":1,"commandStatus":"Failed","errors":["boom"],"command":{"type":"GetFile","params":[]}}]})";
    const auto a = parse_machine_action(entity);
    REQUIRE(a.ok());
    CHECK(a->machine_id == "1e5bc9d7e413ddd7902c2932e418702b84d0cc07");
    CHECK(a->status == ActionStatus::pending);
    CHECK(a->last_update == "2026-11-22T10:01:00Z");
    REQUIRE(a->commands.size() == 2);
    CHECK(a->commands[0].type == "RunScript");
    CHECK(a->commands[0].status == CommandStatus::created);
    CHECK(a->commands[1].status == CommandStatus::failed);
    CHECK(a->commands[1].errors == "[\"boom\"]");
    CHECK(find_tag(a->comment)->install_id == "ab");
}

TEST_CASE("malformed answers are errors, not crashes") {
    for (const char* bad :
         {"", "null", "[]", "{\"id\": 5}", "{\"value\": 3}", "{", "\"\\u0000\""}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_machine_action(bad).ok());
        CHECK_FALSE(parse_machine_action_list(bad).ok());
        CHECK_FALSE(parse_machine_list(bad).ok());
    }
    const std::string deep(100'000, '[');
    CHECK_FALSE(parse_machine_action_list(deep).ok());
}

TEST_CASE("machine lists are parsed with tags and normalised ids") {
    const auto m = parse_machine_list(R"({"value":[{"id":"AAAABBBBCCCCDDDDEEEEFFFF0000111122223333",
      "computerDnsName":"DC01.Contoso.Local","osPlatform":"WindowsServer2022","healthStatus":"Active",
      "machineTags":["tier0", 5, "dc"],"rbacGroupName":"Domain Controllers"}]})");
    REQUIRE(m.ok());
    REQUIRE(m->machines.size() == 1);
    CHECK(m->machines[0].id == "aaaabbbbccccddddeeeeffff0000111122223333");
    CHECK(m->machines[0].computer_dns_name == "dc01.contoso.local");
    CHECK(m->machines[0].tags == std::vector<std::string>{"tier0", "dc"});
    CHECK(m->bad_ids == 0);
    CHECK(m->refused_values == 0);
}

TEST_CASE("machine lists: an entry without a 40-hex id is dropped and counted, not fatal") {
    const auto m = parse_machine_list(
        R"({"value":[{"id":"not-an-id"},{"computerDnsName":"x"},{"id":5},
        {"id":"aaaabbbbccccddddeeeeffff0000111122223333"},{"id":"aaaabbbbccccddddeeeeffff00001111222233334"}]})");
    REQUIRE(m.ok());
    REQUIRE(m->machines.size() == 1);
    CHECK(m->machines[0].id == "aaaabbbbccccddddeeeeffff0000111122223333");
    CHECK(m->bad_ids == 4);
}

TEST_CASE("machine lists: strings over their caps are refused, never cut") {
    using lrsched::api::kMaxDnsName;
    using lrsched::api::kMaxTag;
    using lrsched::api::kMaxTags;
    const std::string id = "aaaabbbbccccddddeeeeffff0000111122223333";
    const auto entity = [&](const std::string& name, const std::string& extra = "") {
        return R"({"id":")" + id + R"(","computerDnsName":")" + name + "\"" + extra + "}";
    };
    // 253 bytes: a whole DNS name, kept; 254 and 6 KB: refused, the machine kept.
    const std::string longest = std::string(kMaxDnsName - 5, 'a') + ".test";
    const auto fits = parse_machine_list(R"({"value":[)" + entity(longest) + "]}");
    REQUIRE(fits.ok());
    CHECK(fits->machines.at(0).computer_dns_name == longest);
    CHECK(fits->refused_values == 0);
    for (const std::size_t size : {kMaxDnsName + 1, std::size_t{6144}}) {
        CAPTURE(size);
        const auto m = parse_machine_list(R"({"value":[)" + entity(std::string(size, 'n')) + "]}");
        REQUIRE(m.ok());
        REQUIRE(m->machines.size() == 1);
        CHECK(m->machines[0].id == id);
        CHECK(m->machines[0].computer_dns_name.empty());
        CHECK(m->refused_values == 1);
    }
    // Every other kept string is capped too; a refused tag leaves the others.
    std::string tags = "\"t0\",\"" + std::string(kMaxTag + 1, 't') + "\"";
    for (std::size_t i = 1; i <= kMaxTags; ++i)
        tags += ",\"t" + std::to_string(i) + "\"";
    const auto m = parse_machine_list(
        R"({"value":[)" +
        entity("a.test", R"(,"osPlatform":")" + std::string(65, 'o') + R"(","healthStatus":")" +
                             std::string(65, 'h') + R"(","lastSeen":")" + std::string(65, 'l') +
                             R"(","rbacGroupName":")" + std::string(6000, 'g') +
                             R"(","machineTags":[)" + tags + "]") +
        "]}");
    REQUIRE(m.ok());
    const auto& a = m->machines.at(0);
    CHECK(a.computer_dns_name == "a.test");
    CHECK(a.os_platform.empty());
    CHECK(a.health_status.empty());
    CHECK(a.last_seen.empty());
    CHECK(a.rbac_group_name.empty());
    REQUIRE(a.tags.size() == kMaxTags);
    CHECK(a.tags.front() == "t0");
    CHECK(a.tags.back() == "t" + std::to_string(kMaxTags - 1));
    CHECK(m->refused_values == 4 + 1 + 1);  // os, health, seen, group; long tag; 65th tag
}

TEST_CASE("machine lists keep every field targets need while dropping the rest") {
    // The parser drops unneeded members as it reads (memory of 10,000-machine
    // pages); nested objects named like kept fields must not confuse it.
    const auto m = parse_machine_list(R"({"@odata.context":"x","value":[
      {"vmMetadata":{"id":"nested","osPlatform":"nested"},"ipAddresses":[{"id":"x"}],
       "id":"aaaabbbbccccddddeeeeffff0000111122223333","computerDnsName":"a.test",
       "osPlatform":"Windows11","healthStatus":"Inactive","lastSeen":"2026-11-01T00:00:00Z",
       "rbacGroupName":"Workstations","machineTags":["t1"],"lastIpAddress":"10.0.0.1"},
      {"id":"1111222233334444555566667777888899990000","machineTags":[]}]})");
    REQUIRE(m.ok());
    REQUIRE(m->machines.size() == 2);
    const auto& a = m->machines[0];
    CHECK(a.id == "aaaabbbbccccddddeeeeffff0000111122223333");
    CHECK(a.computer_dns_name == "a.test");
    CHECK(a.os_platform == "Windows11");
    CHECK(a.health_status == "Inactive");
    CHECK(a.last_seen == "2026-11-01T00:00:00Z");
    CHECK(a.rbac_group_name == "Workstations");
    CHECK(a.tags == std::vector<std::string>{"t1"});
    CHECK(m->machines[1].tags.empty());
}

TEST_CASE("submit answers are classified into what the dispatcher does next") {
    const std::string created = R"({"id":"a1","status":"Pending","machineId":"m"})";
    const std::string busy =
        R"({"error":{"code":"ActiveRequestAlreadyExists","message":"Live response session is active","target":"t"}})";
    const std::string bad =
        R"({"error":{"code":"InvalidRequestBody","message":"order","target":"t"}})";
    struct Case {
        int status;
        std::string body;
        SubmitOutcome outcome;
    };
    const Case cases[] = {
        {201, created, SubmitOutcome::created},
        {200, created, SubmitOutcome::created},  // older docs show 200
        {201, "<html>", SubmitOutcome::unknown},
        {400, busy, SubmitOutcome::busy},
        {400, "...ActiveRequestAlreadyExists...", SubmitOutcome::busy},
        {400, bad, SubmitOutcome::rejected},
        {404, R"({"error":{"code":"ResourceNotFound","message":"m","target":"t"}})",
         SubmitOutcome::not_found},
        {429, "", SubmitOutcome::throttled},
        {401, "", SubmitOutcome::unauthorized},
        {403, "", SubmitOutcome::forbidden},
        {408, "", SubmitOutcome::unknown},
        {500, "", SubmitOutcome::unknown},
        {502, "", SubmitOutcome::unknown},
        {503, "", SubmitOutcome::unknown},
    };
    for (const auto& c : cases) {
        CAPTURE(c.status);
        CAPTURE(c.body);
        const auto r = classify_submit(c.status, c.body);
        CHECK(r.outcome == c.outcome);
        if (c.outcome == SubmitOutcome::created) CHECK(r.action->id == "a1");
    }
    CHECK(classify_submit(400, bad).message == "HTTP 400 InvalidRequestBody: \"order\"");
    CHECK(classify_submit(503, "").message == "HTTP 503");
    // The server's text is quoted in the message: it cannot forge a field or
    // a line wherever the message goes (the session's last_error, the log).
    const std::string hostile =
        R"({"error":{"code":"ActiveRequestAlreadyExists","message":"busy\r\n2025 state=done \u001b[31m\u0000","target":"t"}})";
    CHECK(classify_submit(400, hostile).message ==
          "HTTP 400 ActiveRequestAlreadyExists: \"busy\\r\\n2025 state=done \\x1b[31m\\x00\"");
    CHECK(classify_submit(400, R"({"error":{"code":"a b","message":""}})").message ==
          "HTTP 400 \"a b\"");
}
