// Helpers for tests of the reports (`status`, `sessions`): sessions put in
// any state through the store's own legal transitions, so a report is always
// checked against data the daemon could have written.
#pragma once

#include "store/store.hpp"
#include "support/unwrap.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lrsched::test {

// The legal moves from queued to `target` (SPEC §3), shortest first.
inline std::vector<store::SessionState> path_to(store::SessionState target) {
    using S = store::SessionState;
    switch (target) {
        case S::queued:
            return {};
        case S::busy:
            return {S::submitting, S::busy};
        case S::submitting:
            return {S::submitting};
        case S::pending:
            return {S::submitting, S::pending};
        case S::running:
            return {S::submitting, S::running};
        case S::collecting:
            return {S::submitting, S::running, S::collecting};
        case S::done:
            return {S::submitting, S::running, S::collecting, S::done};
        case S::failed:
            return {S::submitting, S::running, S::collecting, S::failed};
        case S::expired:
            return {S::submitting, S::pending, S::expired};
        case S::not_found:
            return {S::submitting, S::not_found};
        case S::rejected:
            return {S::submitting, S::rejected};
        case S::cancelled:
            return {S::cancelled};
        case S::withdrawn:
            return {S::withdrawn};
        case S::gave_up:
            return {S::gave_up};
    }
    return {};
}

// Moves a queued session to `target`, one legal transition at a time.
inline void move_to(store::Store& s,
                    std::int64_t session_id,
                    store::SessionState target,
                    std::int64_t now_ms,
                    const store::TransitionDetail& last = {}) {
    const auto steps = path_to(target);
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const bool final_step = i + 1 == steps.size();
        unwrap(s.transition(session_id, steps[i], final_step ? last : store::TransitionDetail{},
                            now_ms));
    }
}

// Queues `n` sessions in `run` (machine ids: `prefix`, zeros and i, 40
// characters; host names `<prefix><i>.corp`), offline-looking or not, and
// returns their ids in order.
inline std::vector<std::int64_t> queue(store::Store& s,
                                       std::int64_t run,
                                       int n,
                                       const std::string& prefix,
                                       std::int64_t now_ms,
                                       bool looks_offline = false) {
    std::int64_t last_before = 0;
    for (const auto& row : unwrap(s.sessions_of_run(run, std::nullopt)))
        last_before = std::max(last_before, row.id);
    std::vector<store::NewSession> machines;
    for (int i = 0; i < n; ++i) {
        const std::string number = std::to_string(i);
        std::string id = prefix;
        id.resize(40 - number.size(), '0');
        id += number;
        machines.push_back({id, prefix + std::to_string(i) + ".corp", looks_offline});
    }
    unwrap(s.queue_sessions(run, machines, now_ms));
    std::vector<std::int64_t> ids;
    for (const auto& row : unwrap(s.sessions_of_run(run, std::nullopt))) {
        if (row.id > last_before) ids.push_back(row.id);
    }
    return ids;
}

// Queues one session per entry of `counts` ({state, how many}) and moves
// each to its state; returns the ids, in the order of `counts`.
inline std::vector<std::int64_t> populate(
    store::Store& s,
    std::int64_t run,
    const std::vector<std::pair<store::SessionState, int>>& counts,
    const std::string& prefix,
    std::int64_t now_ms) {
    int n = 0;
    for (const auto& [state, k] : counts)
        n += k;
    const auto ids = queue(s, run, n, prefix, now_ms);
    std::size_t next = 0;
    for (const auto& [state, k] : counts) {
        for (int i = 0; i < k; ++i)
            move_to(s, ids.at(next++), state, now_ms);
    }
    return ids;
}

}  // namespace lrsched::test
