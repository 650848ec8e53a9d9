-- 005: what issue 10's hardening keeps.
--
-- sessions.submitted_at: when the session's current submission began (our
-- clock). Its action was created after it, so listings that follow the
-- session start there (less the clock_skew margin), however long it then
-- pends, runs or collects. Older rows take the time of their last move into
-- submitting.
ALTER TABLE sessions ADD COLUMN submitted_at INTEGER;
UPDATE sessions SET submitted_at = (
    SELECT max(e.at) FROM session_events e
    WHERE e.session_id = sessions.id AND e.to_state = 'submitting')
WHERE submissions > 0;

-- One run per job and cron instant, whatever crashes between a firing and its
-- record: the firing and jobs.last_fired_at are one transaction, and this
-- index refuses a second run for the same instant. A database written before
-- it may already hold such a pair (a crash between the two commits of old):
-- the later run keeps its sessions and loses only its claim on the instant.
UPDATE runs SET scheduled_for = NULL
WHERE scheduled_for IS NOT NULL AND id NOT IN (
    SELECT min(id) FROM runs WHERE scheduled_for IS NOT NULL GROUP BY job_id, scheduled_for);
CREATE UNIQUE INDEX runs_one_per_instant ON runs (job_id, scheduled_for)
WHERE scheduled_for IS NOT NULL;

-- A tenant the daemon cannot reach (refused connection, expired certificate,
-- token endpoint down): the last such error and since when it has lasted,
-- for `status`; both cleared by the next call that gets an answer.
ALTER TABLE tenants ADD COLUMN last_error TEXT;
ALTER TABLE tenants ADD COLUMN last_error_since INTEGER;
