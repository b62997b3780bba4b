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
-- Debounced jobs: one waiting job per debounce key, whose args and run time each enqueue replaces. A job that
-- already runs leaves the key free for the next one.
ALTER TABLE errand_jobs ADD COLUMN debounce_key TEXT;
CREATE UNIQUE INDEX errand_jobs_debounce ON errand_jobs (debounce_key)
  WHERE debounce_key IS NOT NULL AND (state = 'scheduled' OR state = 'ready');

-- Keys that de-duplicate beyond a job's run (keyMode "forever" or { for }): until NULL is for ever.
CREATE TABLE errand_job_keys (
  key    TEXT    PRIMARY KEY,
  job_id INTEGER NOT NULL,
  until  INTEGER
);
`;
