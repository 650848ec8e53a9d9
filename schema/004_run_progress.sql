-- 004: what the dispatcher needs to pick up a run where it stopped.
-- resolved_at: the run's targets were resolved and its sessions queued (in
-- one transaction); a run without it is resolved again at start-up.
ALTER TABLE runs ADD COLUMN resolved_at INTEGER;
-- Unfinished runs are read at every start-up and every scheduling pass.
CREATE INDEX runs_unfinished ON runs (id) WHERE finished_at IS NULL;
