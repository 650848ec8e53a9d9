-- Migration 3: the dispatcher's queue, read in order without a sort.
--
-- The dispatcher walks the few runs that have queued sessions (dozens at
-- most), in priority order, and takes each one's oldest queued session,
-- online-looking machines first (SPEC §3). With 10^5 queued sessions in a run
-- each pick is one index seek, and so is "does this run have any queued".
-- (Busy sessions wake by min(not_before): 001's sessions_dispatch covers it.)
CREATE INDEX sessions_queued ON sessions (run_id, looks_offline, id) WHERE state = 'queued';
