-- 006: the evidence manifest's hash chain (issue 15 item 5).
--
-- runs.chain_tail: the SHA-256 of the run's last manifest line, updated with
-- each artifact row in the same transaction (and from the manifest itself
-- when a crash left lines the store lacked). runs.digest: chain_tail frozen
-- when the run ends, the value `lrsched verify --digest` checks; NULL for a
-- run without a manifest or still going.
ALTER TABLE runs ADD COLUMN chain_tail TEXT;
ALTER TABLE runs ADD COLUMN digest TEXT;

-- Once set, the digest is kept as the audit trail keeps its rows: a run's
-- digest is never rewritten (a new chain tail for an ended run is refused).
CREATE TRIGGER runs_digest_kept BEFORE UPDATE OF digest ON runs
WHEN OLD.digest IS NOT NULL AND NEW.digest IS NOT OLD.digest
BEGIN
    SELECT RAISE(ABORT, 'runs.digest is written once');
END;
