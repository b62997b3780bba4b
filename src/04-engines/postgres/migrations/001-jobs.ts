// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
CREATE TABLE $schema.jobs (
  id               bigserial   PRIMARY KEY,
  task             text        NOT NULL,
  queue            text        NOT NULL,
  state            text        NOT NULL CHECK (state IN ('scheduled', 'ready', 'running', 'succeeded', 'failed', 'cancelled')),
  args             jsonb       NOT NULL,
  priority         integer     NOT NULL,
  run_at           timestamptz NOT NULL,
  attempt          integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL,
  key              text,
  lease_token      text,
  lease_expires_at timestamptz,
  worker_id        text,
  result           jsonb,
  progress         jsonb,
  errors           jsonb       NOT NULL DEFAULT '[]',
  created_at       timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz
);

-- Ready jobs only, in claim order: a claim reads the first entries, whatever the table holds.
CREATE INDEX jobs_claim ON $schema.jobs (priority, run_at, id) WHERE state = 'ready';

-- Delayed and retrying jobs become ready from here, in time order.
CREATE INDEX jobs_scheduled ON $schema.jobs (run_at) WHERE state = 'scheduled';

-- A key names at most one job that is still to run.
CREATE UNIQUE INDEX jobs_key ON $schema.jobs (key) WHERE key IS NOT NULL AND state IN ('scheduled', 'ready', 'running');

CREATE INDEX jobs_lease ON $schema.jobs (lease_expires_at) WHERE state = 'running';

CREATE INDEX jobs_prune ON $schema.jobs (finished_at) WHERE state IN ('succeeded', 'cancelled');

CREATE INDEX jobs_failed ON $schema.jobs (id) WHERE state = 'failed';

CREATE TABLE $schema.workers (
  id           text        PRIMARY KEY,
  hostname     text        NOT NULL,
  pid          integer     NOT NULL,
  queues       jsonb,
  tasks        jsonb       NOT NULL,
  concurrency  integer     NOT NULL,
  started_at   timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  -- Its leases last until then: past it the worker is dead and its jobs are rescued.
  expires_at   timestamptz NOT NULL
);

-- Wakes listening workers when jobs are inserted; NOTIFY is delivered at commit, so a rolled-back enqueue wakes
-- nobody. One notification per statement, however many rows it inserted.
CREATE FUNCTION $schema.notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify($channel, '');
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_inserted AFTER INSERT ON $schema.jobs
  FOR EACH STATEMENT EXECUTE FUNCTION $schema.notify_jobs();
`;
