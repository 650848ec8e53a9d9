// The simulator's webhook receiver, for lrsched's on_finish webhook: POST
// /hooks/<name> records the body and answers; GET /hooks/<name> lists every
// post with the status it was answered, so a test can count retries and
// compare their bodies. Not part of the MDE API: no token, no rate window,
// no fault draw, no ledger. Expected load: a few posts per test; bodies are
// kept up to kMaxHookBody each and kMaxHookPosts per name.
//
// Answers: 500 for the first `webhook_fail_first` posts to a name, then 200.
// A query `?status=NNN` (100-599) forces that status for every post to that
// URL (`&retry_after=S` adds a Retry-After header): the test of a 400 that
// must not be retried, of a hook that always fails, of a 429.
#include "sim/model/api.hpp"
#include "sim/model/sim_util.hpp"

#include <charconv>

namespace lrsched::sim {
namespace {

constexpr std::size_t kMaxHookBody = std::size_t{1} << 20;
constexpr std::size_t kMaxHookPosts = 1000;

std::optional<int> int_param(const Params& params, std::string_view name, int lo, int hi) {
    const std::string* v = find_param(params, name);
    if (!v) return std::nullopt;
    int n = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || p != v->data() + v->size() || n < lo || n > hi) return std::nullopt;
    return n;
}

}  // namespace

HttpResponse SimApi::hooks_post(const std::string& name,
                                const HttpRequest& req,
                                std::string_view query) {
    auto& posts = hooks_[name];
    int status = static_cast<int>(std::min<std::size_t>(posts.size(), INT32_MAX)) <
                         config_.webhook_fail_first
                     ? 500
                     : 200;
    std::optional<int> retry_after;
    if (auto params = parse_params(query)) {
        if (auto forced = int_param(*params, "status", 100, 599)) status = *forced;
        retry_after = int_param(*params, "retry_after", 0, 86'400);
    }
    if (posts.size() < kMaxHookPosts)
        posts.push_back({status, req.body.substr(0, std::min(req.body.size(), kMaxHookBody))});
    HttpResponse r = json(status, {{"received", status < 300}});
    if (retry_after) r.headers.emplace_back("Retry-After", std::to_string(*retry_after));
    return r;
}

HttpResponse SimApi::hooks_get(const std::string& name) const {
    nlohmann::json received = nlohmann::json::array();
    if (auto it = hooks_.find(name); it != hooks_.end())
        for (const auto& p : it->second)
            received.push_back({{"status", p.status}, {"body", p.body}});
    return json(200, {{"received", std::move(received)}});
}

}  // namespace lrsched::sim
