// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- A schedule's job: the schedule's name and the tick it runs for.
ALTER TABLE $schema.jobs ADD COLUMN schedule text;
ALTER TABLE $schema.jobs ADD COLUMN tick timestamptz;

CREATE TABLE $schema.schedules (
  name            text        PRIMARY KEY,
  task            text        NOT NULL,
  queue           text        NOT NULL,
  priority        integer     NOT NULL,
  max_attempts    integer     NOT NULL,
  cron            text        NOT NULL,
  timezone        text        NOT NULL,
  args            jsonb       NOT NULL,
  misfire         text        NOT NULL CHECK (misfire IN ('latest', 'skip', 'backfill')),
  backfill_ms     bigint,
  overlap         boolean     NOT NULL,
  source          text        NOT NULL CHECK (source IN ('code', 'dynamic')),
  paused          boolean     NOT NULL DEFAULT false,
  -- Bumped by every change of definition or pause: a tick is enqueued only over the revision it was planned from.
  revision        integer     NOT NULL,
  -- The earliest tick not yet settled; a tick is enqueued by moving it on (compare-and-set) in the job's transaction.
  next_tick       timestamptz,
  last_tick       timestamptz,
  last_job_id     bigint,
  last_run_at     timestamptz,
  skipped         integer     NOT NULL DEFAULT 0,
  last_skipped_at timestamptz,
  missed          integer     NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

-- A worker's wake-up reads the earliest ticks from here: one probe however many schedules there are.
CREATE INDEX schedules_next ON $schema.schedules (next_tick) WHERE NOT paused;

-- Which workers declare each code schedule: it fires while one of them is alive.
CREATE TABLE $schema.schedule_workers (
  schedule  text NOT NULL,
  worker_id text NOT NULL,
  PRIMARY KEY (schedule, worker_id)
);

CREATE INDEX schedule_workers_worker ON $schema.schedule_workers (worker_id);

-- A schedule added, changed, paused or removed wakes the workers' schedulers (their next tick may be sooner).
CREATE TRIGGER schedules_changed AFTER INSERT OR DELETE OR UPDATE OF revision ON $schema.schedules
  FOR EACH STATEMENT EXECUTE FUNCTION $schema.notify_jobs();
`;
