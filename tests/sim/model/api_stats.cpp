// GET /_sim/stats: what the simulator saw, for tests and the demo to check
// that no limit was crossed and no session was submitted twice. Computed on
// demand (a sweep over all actions, O(n log n)); called rarely.
#include "sim/model/api.hpp"

#include <algorithm>

namespace lrsched::sim {
namespace {

// The most intervals [from, to) overlapping at any moment up to `now`.
std::size_t max_overlap(std::vector<std::pair<double, double>> intervals, double now) {
    std::vector<std::pair<double, int>> events;
    for (const auto& [from, to] : intervals) {
        if (!(from < to) || from > now) continue;
        events.emplace_back(from, +1);
        if (to <= now) events.emplace_back(to, -1);
    }
    // At equal times ends (-1) sort first: half-open intervals do not touch.
    std::sort(events.begin(), events.end());
    std::size_t cur = 0, best = 0;
    for (const auto& [t, d] : events) {
        cur = d > 0 ? cur + 1 : cur - 1;
        best = std::max(best, cur);
    }
    return best;
}

}  // namespace

nlohmann::json SimApi::stats(double now) {
    nlohmann::json calls = nlohmann::json::object();
    for (const auto& [endpoint, by_status] : calls_)
        for (const auto& [status, n] : by_status)
            calls[endpoint][status == 0 ? "reset" : std::to_string(status)] = n;

    nlohmann::json throttled = {
        {"submit_rate", 0}, {"concurrency", 0}, {"read_rate", 0}, {"foreign", 0}};
    for (const auto& [reason, n] : throttled_)
        throttled[reason] = n;
    nlohmann::json faults = {{"http500", 0},
                             {"http503", 0},
                             {"reset", 0},
                             {"slow", 0},
                             {"foreign_429", 0},
                             {"created_but_lost_500", 0},
                             {"created_but_lost_reset", 0},
                             {"truncate_download", 0},
                             {"reset_download", 0},
                             {"expire_link", 0},
                             {"library_unavailable", 0},
                             {"replay", 0}};
    for (const auto& [kind, n] : faults_)
        faults[kind] = n;

    // Token refusals by AADSTS code ("700027": n), e.g. the certificate checks.
    nlohmann::json token_errors = nlohmann::json::object();
    for (const auto& [code, n] : token_errors_)
        token_errors[std::to_string(code)] = n;

    nlohmann::json tokens_by_credential = nlohmann::json::object();
    for (const auto& [credential, n] : tokens_by_credential_)
        tokens_by_credential[credential] = n;

    std::vector<std::pair<double, double>> sessions, running;
    std::map<std::string, std::uint64_t> per_machine;
    nlohmann::json by_status = {{"Pending", 0}, {"InProgress", 0}, {"Succeeded", 0},
                                {"Failed", 0},  {"TimeOut", 0},    {"Cancelled", 0}};
    for (const Action& a : actions_) {
        const double fin = final_time(a);
        sessions.emplace_back(config_.pending_counts_as_running ? a.created : a.run_start, fin);
        running.emplace_back(a.run_start, fin);
        ++per_machine[a.machine_id];
        by_status[status_name(status_at(a, now))] =
            by_status[status_name(status_at(a, now))].get<int>() + 1;
    }
    std::uint64_t duplicates = 0;
    nlohmann::json examples = nlohmann::json::array();
    for (const auto& [tag, n] : tags_)
        if (n > 1) {
            ++duplicates;
            if (examples.size() < 20) examples.push_back(tag);
        }
    return {{"now", now},
            {"calls", calls},
            {"throttled", throttled},
            {"submit_calls_limit", config_.submit_calls},
            {"submit_window_seconds", config_.submit_window},
            {"max_submits_in_any_window", busiest_submits_.max()},
            {"max_accepted_submits_in_any_window", busiest_accepted_submits_.max()},
            {"concurrent_sessions_limit", config_.concurrent_sessions},
            {"pending_counts_as_running", config_.pending_counts_as_running},
            {"max_concurrent_sessions", max_overlap(sessions, now)},
            {"max_in_progress", max_overlap(running, now)},
            {"actions_created", actions_.size()},
            {"actions_by_status", by_status},
            {"actions_per_machine", per_machine},
            {"duplicate_tags", duplicates},
            {"duplicate_tag_examples", examples},
            {"faults_injected", faults},
            {"tokens_issued", tokens_issued_},
            {"token_errors", token_errors},
            {"tokens_by_credential", tokens_by_credential}};
}

}  // namespace lrsched::sim
