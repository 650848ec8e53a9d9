// The live response library (GET/POST/DELETE /api/libraryfiles) and the
// result downloads under /_sim/blob/ that stand in for Azure Storage SAS
// links (no bearer token; signature and expiry in the query string).
#include "common/diagnostic.hpp"
#include "sim/model/api.hpp"
#include "sim/model/results.hpp"

namespace lrsched::sim {
namespace {

constexpr std::size_t kMaxUploadBody = 21u << 20;
constexpr std::size_t kMaxLibraryFile = 20u << 20;

std::optional<bool> form_bool(const std::string& v) {
    if (iequals(v, "true")) return true;
    if (iequals(v, "false")) return false;
    return std::nullopt;
}

}  // namespace

HttpResponse SimApi::library_list() {
    nlohmann::json value = nlohmann::json::array();
    for (const auto& f : library_.all())
        value.push_back(library_json(f));
    return json(200, {{"@odata.context", base_ + "/api/$metadata#LibraryFiles"}, {"value", value}});
}

HttpResponse SimApi::library_upload(const HttpRequest& req, double now) {
    if (req.body.size() > kMaxUploadBody)
        return error(400, "BadRequest", "The request is larger than the 20 MB upload limit");
    std::string why;
    const auto parts = parse_multipart(req.header("content-type"), req.body, why);
    if (!parts) return error(400, "InvalidRequestBody", why);
    const FormPart* file = nullptr;
    LibraryFile f;
    bool override_existing = false;
    for (const auto& p : *parts) {
        // The docs name the part "File"; their curl example sends "file".
        if (iequals(p.name, "File")) {
            if (file != nullptr) return error(400, "InvalidRequestBody", "More than one File part");
            file = &p;
        } else if (p.name == "Description") {
            f.description = p.body;
        } else if (p.name == "ParametersDescription") {
            f.parameters_description = p.body;
        } else if (p.name == "HasParameters" || p.name == "OverrideIfExists") {
            const auto b = form_bool(p.body);
            if (!b) return error(400, "InvalidRequestBody", p.name + " must be true or false");
            (p.name == "HasParameters" ? f.has_parameters : override_existing) = *b;
        } else {
            return error(400, "InvalidRequestBody", "Unknown form field " + quote_value(p.name));
        }
    }
    if (file == nullptr)
        return error(400, "MissingRequiredParameter", "The form field 'File' is required");
    if (!is_library_name(file->filename))
        return error(400, "InvalidRequestBody",
                     "The file name " + quote_value(file->filename) +
                         " is not allowed (letters, digits, '-', '_' and '.')");
    if (file->body.size() > kMaxLibraryFile)
        return error(400, "BadRequest", "The file is larger than the 20 MB upload limit");
    if (library_.find(file->filename) != nullptr && !override_existing)
        return error(400, "BadRequest",
                     "The file " + quote_value(file->filename) +
                         " already exists; set OverrideIfExists to replace it");
    f.file_name = file->filename;
    f.sha256 = sha256_hex(file->body);
    f.created_by = config_.client_id;
    f.creation_time = f.last_updated_time = ticks(now);
    library_.put(f);
    nlohmann::json body = library_json(*library_.find(f.file_name));
    body["@odata.context"] = base_ + "/api/$metadata#LibraryFiles/$entity";
    return json(200, body);
}

HttpResponse SimApi::library_delete(const std::string& name) {
    if (!library_.remove(name))
        return error(404, "ResourceNotFound",
                     "Library file " + quote_value(name) + " was not found");
    HttpResponse r;
    r.status = 204;
    return r;
}

HttpResponse SimApi::blob(const std::string& id, std::string_view query, double now) {
    auto denied = [&](const std::string& detail) {
        HttpResponse r;
        r.status = 403;
        r.headers.emplace_back("Content-Type", "application/xml");
        r.body =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>"
            "<Message>Server failed to authenticate the request. Make sure the value of "
            "Authorization header is formed correctly including the signature.\nRequestId:" +
            guids_.next() + "\nTime:" + iso_time(ticks(now)) +
            "</Message><AuthenticationErrorDetail>" + detail +
            "</AuthenticationErrorDetail></Error>";
        return r;
    };
    const auto params = parse_params(query);
    const auto it = blobs_.find(id);
    if (!params || it == blobs_.end()) return denied("Signature did not match.");
    const std::string* se = find_param(*params, "se");
    const std::string* sp = find_param(*params, "sp");
    const std::string* sig = find_param(*params, "sig");
    if (se == nullptr || sp == nullptr || sig == nullptr || *sp != "r" || *se != it->second.se ||
        *sig != hmac_sha256_hex(link_key_, id + "\n" + *se))
        return denied("Signature did not match.");
    // Each download draws its faults from its own number, one salt per kind.
    const std::uint64_t n = ++blob_draws_;
    const auto drawn = [&](std::uint64_t salt, double fraction) {
        return fraction > 0 && unit_double(mix64(mix64(config_.seed ^ salt) + n)) < fraction;
    };
    const bool expire = drawn(0x7c08, config_.fault_expire_link);
    if (expire) ++faults_["expire_link"];
    if (expire || now >= it->second.expires)
        return denied("Signed expiry time [" + *se + "] must be after the current time [" +
                      iso_time_seconds(ticks(now)) + "]");

    const Action& a = actions_[it->second.action];
    const PlannedCommand& cmd = a.commands[it->second.index];
    HttpResponse r;
    r.headers.emplace_back("Content-Type", "application/octet-stream");
    r.headers.emplace_back("x-ms-blob-type", "BlockBlob");
    std::uint64_t size = 0;
    if (cmd.type == CommandType::RunScript) {
        const std::string* args = cmd.param("Args");
        r.body = runscript_transcript(a.id, *cmd.param("ScriptName"), args ? *args : "",
                                      a.computer_dns_name, cmd.exit_code,
                                      fleet_.all()[a.machine].odd_output);
        size = r.body.size();
    } else {
        r.stream =
            make_zip_stream(a.machine_id, *cmd.param("Path"), config_.getfile_size, ticks(cmd.end));
        size = r.stream->size();
    }
    if (drawn(0x7c09, config_.fault_reset_download)) {
        ++faults_["reset_download"];
        r.fault = Fault::reset_before_reply;
    } else if (drawn(0x7c07, config_.fault_truncate_download)) {
        ++faults_["truncate_download"];
        r.fault = Fault::truncate_body;
        r.truncate_at = size / 2;
    }
    // Paces result downloads: a test that needs a collection to last (a
    // kill in its middle) gets that from here, not from a slow build.
    r.delay_seconds = config_.download_delay;
    return r;
}

}  // namespace lrsched::sim
