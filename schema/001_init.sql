-- Migration 1: everything lrsched keeps. Jobs as loaded from their files, one
-- run per execution of a job, one session per target machine of a run, the
-- append-only history of every session, and the evidence files downloaded.
--
-- Expected load: up to 10^6 session rows (and a few times as many events)
-- kept at once; about 10 writes a minute on the hot path (state changes paced
-- by the API's 10 runliveresponse calls a minute and by polling), plus bursts
-- of up to 10^5 session inserts in one transaction when a run is queued.
--
-- Every timestamp is INTEGER unix milliseconds, UTC. Tables are STRICT so a
-- value of the wrong type is refused rather than stored (SQLite >= 3.37).
-- Applied in one transaction by apply_migrations, which sets user_version.

-- Facts about this installation. install_id: 16 random hex characters made
-- once, when the store is created; it goes into every correlation tag so two
-- installations working on the same tenant never claim each other's actions.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('install_id', lower(hex(randomblob(8))));

-- One row per job file ever loaded. A deleted file keeps its row (deleted_at
-- set) because its runs and evidence refer to it.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    tenant        TEXT NOT NULL,
    definition    TEXT NOT NULL CHECK (json_valid(definition)),  -- canonical JSON
    source_path   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    loaded_at     INTEGER NOT NULL,
    last_error    TEXT,     -- why the file was last refused, if it was
    last_error_at INTEGER,
    paused        INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    paused_reason TEXT,
    deleted_at    INTEGER
) STRICT;

-- One execution of a job. The definition is frozen into the run when it
-- starts, so editing the job file never changes a run already under way.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id),
    definition    TEXT NOT NULL CHECK (json_valid(definition)),  -- frozen copy
    "trigger"     TEXT NOT NULL CHECK ("trigger" IN ('first_load', 'cron', 'catch_up', 'manual')),
    scheduled_for INTEGER,  -- the cron instant it stands for; NULL for manual runs
    created_at    INTEGER NOT NULL,
    deadline_at   INTEGER,  -- sessions still waiting then become gave_up
    finished_at   INTEGER
) STRICT;
CREATE INDEX runs_by_job ON runs (job_id);

-- One target machine of a run: the unit the dispatcher submits, polls and
-- collects. The states and their legal changes are SPEC §3's, enforced by the
-- store (sessions/session_state.hpp); this CHECK only keeps out unknown names.
CREATE TABLE sessions (
    id                INTEGER PRIMARY KEY,
    run_id            INTEGER NOT NULL REFERENCES runs (id),
    machine_id        TEXT NOT NULL,
    computer_dns_name TEXT,
    looks_offline     INTEGER NOT NULL DEFAULT 0 CHECK (looks_offline IN (0, 1)),
    state             TEXT NOT NULL CHECK (state IN (
        'queued', 'busy', 'submitting', 'pending', 'running', 'collecting', 'done',
        'failed', 'expired', 'not_found', 'rejected', 'cancelled', 'withdrawn', 'gave_up')),
    attempt           INTEGER NOT NULL DEFAULT 1,  -- 1 + times re-queued by retry policy
    submissions       INTEGER NOT NULL DEFAULT 0,  -- times moved into submitting; in the tag
    action_id         TEXT,     -- the server's machine action, once known
    not_before        INTEGER,  -- not to be dispatched before this instant
    exit_code         INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_error        TEXT,
    UNIQUE (run_id, machine_id)
) STRICT;
-- The dispatcher's question: which sessions are queued (or busy) and due?
CREATE INDEX sessions_dispatch ON sessions (state, not_before);
-- Per-run listings and tallies by state.
CREATE INDEX sessions_by_run_state ON sessions (run_id, state);
-- Matching the server's machine actions back to sessions while polling.
CREATE INDEX sessions_by_action ON sessions (action_id) WHERE action_id IS NOT NULL;

-- Every state change of every session, with its time: the audit trail. Rows
-- are only ever added; the triggers below refuse UPDATE and DELETE.
CREATE TABLE session_events (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    at         INTEGER NOT NULL,
    from_state TEXT CHECK (from_state IS NULL OR from_state IN (
        'queued', 'busy', 'submitting', 'pending', 'running', 'collecting', 'done',
        'failed', 'expired', 'not_found', 'rejected', 'cancelled', 'withdrawn', 'gave_up')),
    to_state   TEXT NOT NULL CHECK (to_state IN (
        'queued', 'busy', 'submitting', 'pending', 'running', 'collecting', 'done',
        'failed', 'expired', 'not_found', 'rejected', 'cancelled', 'withdrawn', 'gave_up')),
    attempt    INTEGER NOT NULL,
    action_id  TEXT,
    detail     TEXT
) STRICT;  -- from_state is NULL for the creation event (none -> queued)
CREATE INDEX session_events_by_session ON session_events (session_id);
CREATE TRIGGER session_events_no_update BEFORE UPDATE ON session_events
BEGIN
    SELECT RAISE(ABORT, 'session_events is append-only');
END;
CREATE TRIGGER session_events_no_delete BEFORE DELETE ON session_events
BEGIN
    SELECT RAISE(ABORT, 'session_events is append-only');
END;

-- One evidence file per completed RunScript or GetFile command, written once
-- the file is complete, hashed and renamed into place. Mirrors a line of the
-- run's manifest.jsonl.
CREATE TABLE artifacts (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions (id),
    action_id     TEXT NOT NULL,
    command_index INTEGER NOT NULL,
    command_type  TEXT NOT NULL CHECK (command_type IN ('RunScript', 'GetFile')),
    remote        TEXT NOT NULL,  -- the script name or remote path exactly as sent
    file          TEXT NOT NULL,  -- relative to the run folder
    bytes         INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    downloaded_at INTEGER NOT NULL,
    action_status TEXT NOT NULL,
    UNIQUE (action_id, command_index)
) STRICT;
CREATE INDEX artifacts_by_session ON artifacts (session_id);
