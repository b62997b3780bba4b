// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- A schedule's job: the schedule's name and the tick (ms) it runs for.
ALTER TABLE errand_jobs ADD COLUMN schedule TEXT;
ALTER TABLE errand_jobs ADD COLUMN tick INTEGER;

CREATE TABLE errand_schedules (
  name            TEXT    PRIMARY KEY,
  task            TEXT    NOT NULL,
  queue           TEXT    NOT NULL,
  priority        INTEGER NOT NULL,
  max_attempts    INTEGER NOT NULL,
  cron            TEXT    NOT NULL,
  timezone        TEXT    NOT NULL,
  args            TEXT    NOT NULL,
  misfire         TEXT    NOT NULL CHECK (misfire = 'latest' OR misfire = 'skip' OR misfire = 'backfill'),
  backfill_ms     INTEGER,
  overlap         INTEGER NOT NULL,
  source          TEXT    NOT NULL CHECK (source = 'code' OR source = 'dynamic'),
  paused          INTEGER NOT NULL DEFAULT 0,
  -- Bumped by every change of definition or pause: a tick is enqueued only over the revision it was planned from.
  revision        INTEGER NOT NULL,
  -- The earliest tick not yet settled; a tick is enqueued by moving it on (compare-and-set) in the job's transaction.
  next_tick       INTEGER,
  last_tick       INTEGER,
  last_job_id     INTEGER,
  last_run_at     INTEGER,
  skipped         INTEGER NOT NULL DEFAULT 0,
  last_skipped_at INTEGER,
  missed          INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

-- A worker's wake-up reads the earliest ticks from here: one probe however many schedules there are.
CREATE INDEX errand_schedules_next ON errand_schedules (next_tick) WHERE paused = 0;

-- Which workers declare each code schedule: it fires while one of them is alive.
CREATE TABLE errand_schedule_workers (
  schedule  TEXT NOT NULL,
  worker_id TEXT NOT NULL,
  PRIMARY KEY (schedule, worker_id)
) WITHOUT ROWID;

CREATE INDEX errand_schedule_workers_worker ON errand_schedule_workers (worker_id);
`;
