// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- 1 once the database knows the current attempt's handler began (reported by a heartbeat, or set when a suspect is
-- claimed): only such attempts are charged when their lease expires.
ALTER TABLE errand_jobs ADD COLUMN lease_started INTEGER NOT NULL DEFAULT 0;

-- 1 after a job was (or may have been) running when its worker died: it runs alone until it finishes once.
ALTER TABLE errand_jobs ADD COLUMN suspect INTEGER NOT NULL DEFAULT 0;

-- Suspects waiting to run, in claim order; empty almost always, so probing it costs nothing.
CREATE INDEX errand_jobs_suspect ON errand_jobs (priority, run_at, id)
  WHERE suspect = 1 AND (state = 'ready' OR state = 'scheduled');
`;
