// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
CREATE TABLE errand_jobs (
  id               INTEGER PRIMARY KEY,
  task             TEXT    NOT NULL,
  queue            TEXT    NOT NULL,
  -- Written as ORs: SQLite evaluates "state IN (...)" in a CHECK far more slowly, on every write.
  state            TEXT    NOT NULL CHECK (state = 'scheduled' OR state = 'ready' OR state = 'running'
                                           OR state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
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

-- Ready jobs only, in claim order: a claim walks the first entries, whatever the table holds.
CREATE INDEX errand_jobs_claim ON errand_jobs (priority, run_at, id) WHERE state = 'ready';

-- Jobs waiting for a later time (delayed, or retrying after backoff) become ready from here, in time order.
CREATE INDEX errand_jobs_scheduled ON errand_jobs (run_at) WHERE state = 'scheduled';

-- A key names at most one job that is still to run.
CREATE UNIQUE INDEX errand_jobs_key ON errand_jobs (key)
  WHERE key IS NOT NULL AND (state = 'scheduled' OR state = 'ready' OR state = 'running');

CREATE INDEX errand_jobs_lease ON errand_jobs (lease_expires_at) WHERE state = 'running';

CREATE INDEX errand_jobs_prune ON errand_jobs (finished_at) WHERE state = 'succeeded' OR state = 'cancelled';

CREATE INDEX errand_jobs_failed ON errand_jobs (id) WHERE state = 'failed';

CREATE TABLE errand_workers (
  id           TEXT    PRIMARY KEY,
  hostname     TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  queues       TEXT,
  tasks        TEXT    NOT NULL,
  concurrency  INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  -- Its leases last until then: past it the worker is dead and its jobs are rescued.
  expires_at   INTEGER NOT NULL
);
`;
