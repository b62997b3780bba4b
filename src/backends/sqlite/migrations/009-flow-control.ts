// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- Per-key concurrency limits: the key a job's task computed from its args at enqueue, and the limit its task set
-- then. A claim walks the keys of ready limited jobs (one probe per key, from the first index) and counts the
-- running jobs of each key (the second), so neither cost grows with the jobs stored.
ALTER TABLE errand_jobs ADD COLUMN concurrency_key TEXT;
ALTER TABLE errand_jobs ADD COLUMN concurrency_limit INTEGER;
CREATE INDEX errand_jobs_limited ON errand_jobs (task, concurrency_key, priority, run_at, id)
  WHERE state = 'ready' AND concurrency_key IS NOT NULL;
CREATE INDEX errand_jobs_limited_running ON errand_jobs (task, concurrency_key)
  WHERE state = 'running' AND concurrency_key IS NOT NULL;

-- Queues an operator paused: workers claim nothing from them until resumed; jobs already running finish.
CREATE TABLE errand_paused_queues (
  queue     TEXT    PRIMARY KEY,
  paused_at INTEGER NOT NULL
);
-- Rate limits: how many jobs a claim started under a rate key, and when (one row per claim, not per job). A claim
-- counts the starts in the last period, deletes older ones, and takes at most what is left.
CREATE TABLE errand_rate_starts (
  rkey TEXT    NOT NULL,
  at   INTEGER NOT NULL,
  n    INTEGER NOT NULL
);
CREATE INDEX errand_rate_starts_key ON errand_rate_starts (rkey, at);
`;
