// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
CREATE TABLE errand_jobs (
  id               INTEGER PRIMARY KEY,
  task             TEXT    NOT NULL,
  queue            TEXT    NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('ready', 'running', 'succeeded', 'failed', 'cancelled')),
  args             TEXT    NOT NULL,
  priority         INTEGER NOT NULL,
  run_at           INTEGER NOT NULL,
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  key              TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER,
  worker_id        TEXT,
  result           TEXT,
  progress         TEXT,
  errors           TEXT    NOT NULL DEFAULT '[]',
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER
);

-- Claim order, over ready jobs only: the index stays as small as the backlog however many rows are kept.
CREATE INDEX errand_jobs_claim ON errand_jobs (priority, run_at, id) WHERE state = 'ready';

-- A key names at most one job that is still to run.
CREATE UNIQUE INDEX errand_jobs_key ON errand_jobs (key) WHERE key IS NOT NULL AND state IN ('ready', 'running');

CREATE INDEX errand_jobs_lease ON errand_jobs (lease_expires_at) WHERE state = 'running';

CREATE INDEX errand_jobs_prune ON errand_jobs (finished_at) WHERE state IN ('succeeded', 'cancelled');

CREATE INDEX errand_jobs_state ON errand_jobs (state, id) WHERE state IN ('failed', 'cancelled');

CREATE TABLE errand_workers (
  id           TEXT    PRIMARY KEY,
  hostname     TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  queues       TEXT,
  tasks        TEXT    NOT NULL,
  concurrency  INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
`;
