-- Migration 2: what the dispatcher keeps so that a restart neither bursts past
-- a limit nor fires a schedule twice.
--
-- Load: one api_calls row per API call (at most 10 submits and 100 reads a
-- minute per tenant), written when the call leaves and again when it ends;
-- rows older than the longest window are pruned. A handful of tenant rows.

-- The last cron instant a job handled, whether it ran or was skipped
-- (overlap: skip, catch_up: false). The next firing is computed from it, so
-- a clock stepped back never fires the same instant twice.
ALTER TABLE jobs ADD COLUMN last_fired_at INTEGER;

-- Machines a run named explicitly but the API did not list, as JSON
-- {"ids": [...], "hostnames": [...]}: reported, never silently dropped.
ALTER TABLE runs ADD COLUMN unresolved TEXT CHECK (unresolved IS NULL OR json_valid(unresolved));

-- Every call that counts against a rate limit. ended_at is NULL while the
-- call is in flight; after a crash such a row counts as ending at the moment
-- the daemon starts again (the latest the server can have seen it).
CREATE TABLE api_calls (
    id         INTEGER PRIMARY KEY,
    tenant     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('submit', 'read')),
    started_at INTEGER NOT NULL,
    ended_at   INTEGER
) STRICT;
CREATE INDEX api_calls_by_window ON api_calls (tenant, kind, started_at);

-- Per-tenant state that must outlive the process: why a tenant is paused
-- (a second 401/403), and until when the server asked us to hold off.
CREATE TABLE tenants (
    name            TEXT PRIMARY KEY,
    paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    paused_reason   TEXT,
    throttled_until INTEGER
) STRICT;
