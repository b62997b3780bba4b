// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- Per-key concurrency limits: the key a job's task computed from its args at enqueue, and the limit its task set
-- then. A claim walks the keys of ready limited jobs (a skip scan of the first index) and counts the running jobs
-- of each key (the second), so neither cost grows with the jobs stored.
ALTER TABLE $schema.jobs ADD COLUMN concurrency_key text, ADD COLUMN concurrency_limit integer;
CREATE INDEX jobs_limited ON $schema.jobs (task, concurrency_key, priority, run_at, id)
  WHERE state = 'ready' AND concurrency_key IS NOT NULL;
CREATE INDEX jobs_limited_running ON $schema.jobs (task, concurrency_key)
  WHERE state = 'running' AND concurrency_key IS NOT NULL;

-- Queues an operator paused: workers claim nothing from them until resumed; jobs already running finish.
CREATE TABLE $schema.paused_queues (
  queue     text        PRIMARY KEY,
  paused_at timestamptz NOT NULL
);
-- Rate limits: how many jobs a claim started under a rate key, and when (one row per claim, not per job). A claim
-- counts the starts in the last period, deletes older ones, and takes at most what is left.
CREATE TABLE $schema.rate_starts (
  rkey text        NOT NULL,
  at   timestamptz NOT NULL,
  n    integer     NOT NULL
);
CREATE INDEX rate_starts_key ON $schema.rate_starts (rkey, at);
-- Debounced jobs: one waiting job per debounce key, whose args and run time each enqueue replaces. A job that
-- already runs leaves the key free for the next one.
ALTER TABLE $schema.jobs ADD COLUMN debounce_key text;
CREATE UNIQUE INDEX jobs_debounce ON $schema.jobs (debounce_key)
  WHERE debounce_key IS NOT NULL AND state IN ('scheduled', 'ready');

-- Keys that de-duplicate beyond a job's run (keyMode "forever" or { for }): until NULL is for ever.
CREATE TABLE $schema.job_keys (
  key    text        PRIMARY KEY,
  job_id bigint      NOT NULL,
  until  timestamptz
);
`;
