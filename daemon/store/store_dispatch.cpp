// Store: what the dispatcher keeps across restarts (schema/002_dispatch.sql):
// the API call log behind the rate windows, the submit protocol's first
// durable step, and per-tenant pause and throttle state. Load: a couple of
// small writes per API call, at most ~110 calls a minute per tenant.
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace lrsched::store {
namespace {

std::string_view kind_name(ApiCallKind k) {
    return k == ApiCallKind::submit ? "submit" : "read";
}

Result<std::int64_t> insert_call(Database& db,
                                 std::string_view tenant,
                                 ApiCallKind kind,
                                 std::int64_t now_ms) {
    auto s = db.prepare("INSERT INTO api_calls (tenant, kind, started_at) VALUES (?1, ?2, ?3)");
    if (!s) return std::move(s).error();
    s->bind_all(tenant, kind_name(kind), now_ms);
    if (auto r = s->run(); !r) return std::move(r).error();
    return db.last_insert_rowid();
}

}  // namespace

Result<std::int64_t> Store::begin_api_call(std::string_view tenant,
                                           ApiCallKind kind,
                                           std::int64_t now_ms) {
    return in_transaction(*db_, [&]() { return insert_call(*db_, tenant, kind, now_ms); });
}

Result<void> Store::end_api_call(std::int64_t call_id, std::int64_t at_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare("UPDATE api_calls SET ended_at = ?2 WHERE id = ?1");
        if (!s) return std::move(s).error();
        s->bind_all(call_id, at_ms);
        if (auto r = s->run(); !r) return r;
        if (db_->changes() == 0)
            return Error{Errc::not_found, "api call " + std::to_string(call_id) + " not found"};
        return ok();
    });
}

Result<std::vector<ApiCallRow>> Store::api_calls_since(std::string_view tenant,
                                                       ApiCallKind kind,
                                                       std::int64_t since_ms) {
    auto s = db_->prepare(
        "SELECT id, started_at, ended_at FROM api_calls WHERE tenant = ?1 AND kind = ?2 "
        "AND (ended_at IS NULL OR ended_at > ?3) ORDER BY started_at, id");
    if (!s) return std::move(s).error();
    s->bind_all(tenant, kind_name(kind), since_ms);
    std::vector<ApiCallRow> out;
    auto read = s->each([&](const Statement& row) {
        out.push_back({row.column_int64(0), row.column_int64(1), row.column_optional_int64(2)});
    });
    if (!read) return std::move(read).error();
    return out;
}

Result<std::int64_t> Store::prune_api_calls(std::int64_t before_ms) {
    return in_transaction(*db_, [&]() -> Result<std::int64_t> {
        auto s = db_->prepare("DELETE FROM api_calls WHERE ended_at IS NOT NULL AND ended_at < ?1");
        if (!s) return std::move(s).error();
        s->bind_all(before_ms);
        if (auto r = s->run(); !r) return std::move(r).error();
        return static_cast<std::int64_t>(db_->changes());
    });
}

Result<Store::SubmitStart> Store::begin_submit(std::int64_t session_id,
                                               std::string_view tenant,
                                               std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<SubmitStart> {
        // The event says how the machine looked when the session was sent:
        // through the offline share or not (health re-checks change it).
        auto current = find_session(session_id);
        if (!current) return std::move(current).error();
        const bool offline = *current && (*current)->looks_offline;
        auto moved = transition_locked(
            session_id, SessionState::submitting,
            TransitionDetail::note(offline ? "machine looks offline" : "machine looks online"),
            now_ms);
        if (!moved) return std::move(moved).error();
        auto call = insert_call(*db_, tenant, ApiCallKind::submit, now_ms);
        if (!call) return std::move(call).error();
        return SubmitStart{std::move(*moved), *call};
    });
}

Result<TenantRow> Store::tenant_state(std::string_view tenant) {
    auto s = db_->prepare(
        "SELECT paused, paused_reason, throttled_until, last_error, last_error_since FROM tenants "
        "WHERE name = ?1");
    if (!s) return std::move(s).error();
    s->bind_all(tenant);
    TenantRow none;  // no row: never paused, throttled or failed
    none.name = std::string(tenant);
    auto found = s->first([&](const Statement& row) {
        TenantRow t = none;
        t.paused = row.column_int64(0) != 0;
        t.paused_reason = row.column_optional_text(1);
        t.throttled_until = row.column_optional_int64(2);
        t.last_error = row.column_optional_text(3);
        t.last_error_since = row.column_optional_int64(4);
        return t;
    });
    if (!found) return std::move(found).error();
    return found->value_or(std::move(none));
}

Result<void> Store::set_tenant_error(std::string_view tenant,
                                     std::optional<std::string> error,
                                     std::int64_t now_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare(
            "INSERT INTO tenants (name, last_error, last_error_since) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error, "
            "last_error_since = CASE WHEN excluded.last_error IS NULL THEN NULL "
            "ELSE coalesce(tenants.last_error_since, excluded.last_error_since) END");
        if (!s) return std::move(s).error();
        const std::optional<std::int64_t> since = error ? std::optional{now_ms} : std::nullopt;
        s->bind_all(tenant, error, since);
        return s->run();
    });
}

Result<void> Store::set_tenant_paused(std::string_view tenant, bool paused, std::string reason) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare(
            "INSERT INTO tenants (name, paused, paused_reason) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, paused_reason = "
            "excluded.paused_reason");
        if (!s) return std::move(s).error();
        const std::optional<std::string> why = paused ? std::optional{reason} : std::nullopt;
        s->bind_all(tenant, paused, why);
        return s->run();
    });
}

Result<void> Store::set_tenant_throttled_until(std::string_view tenant,
                                               std::optional<std::int64_t> until_ms) {
    return in_transaction(*db_, [&]() -> Result<void> {
        auto s = db_->prepare(
            "INSERT INTO tenants (name, throttled_until) VALUES (?1, ?2) "
            "ON CONFLICT (name) DO UPDATE SET throttled_until = excluded.throttled_until");
        if (!s) return std::move(s).error();
        s->bind_all(tenant, until_ms);
        return s->run();
    });
}

}  // namespace lrsched::store
