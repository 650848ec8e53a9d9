-- 007: closing a run (issue 15 items 1, 4 and 6).
--
-- A run ends (finished_at) when its last session does; it is then closed by
-- the daemon: results.jsonl written to its folder and listed in the
-- manifest, whose last line's hash becomes the run digest (closed_at set in
-- the same transaction as the digest); then its on_finish hooks run
-- (hooks_done_at, also set when it has none); its evidence folder may later
-- be removed by the job's retention (evidence_removed_at).
ALTER TABLE runs ADD COLUMN closed_at INTEGER;
ALTER TABLE runs ADD COLUMN hooks_done_at INTEGER;
ALTER TABLE runs ADD COLUMN evidence_removed_at INTEGER;

-- Runs that ended before this migration had their digest frozen at the
-- end: they are closed as they are (a results line appended now would no
-- longer match the digest already recorded), and their hooks are not run.
UPDATE runs SET closed_at = finished_at, hooks_done_at = finished_at
WHERE finished_at IS NOT NULL;

CREATE INDEX runs_to_close ON runs (id)
WHERE finished_at IS NOT NULL AND (closed_at IS NULL OR hooks_done_at IS NULL);

-- The audit log: what the daemon did with a run's evidence once it ended,
-- kept when the evidence itself is removed. Append-only, as session_events.
-- event: run_digest (detail: {"digest", "file"}), hook ({"kind", "ok",
-- "detail", "attempts"}), evidence_removed ({"folder", "digest", "why"}).
CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    job     TEXT NOT NULL,
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    event   TEXT NOT NULL CHECK (event IN ('run_digest', 'hook', 'evidence_removed')),
    detail  TEXT NOT NULL CHECK (json_valid(detail))
) STRICT;
CREATE INDEX audit_events_by_run ON audit_events (run_id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
