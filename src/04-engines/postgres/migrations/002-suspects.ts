// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- true once the database knows the current attempt's handler began (reported by a heartbeat, or set when a suspect
-- is claimed): only such attempts are charged when their lease expires.
ALTER TABLE $schema.jobs ADD COLUMN lease_started boolean NOT NULL DEFAULT false;

-- true after a job was (or may have been) running when its worker died: it runs alone until it finishes once.
ALTER TABLE $schema.jobs ADD COLUMN suspect boolean NOT NULL DEFAULT false;

-- Suspects waiting to run, in claim order; empty almost always, so probing it costs nothing.
CREATE INDEX jobs_suspect ON $schema.jobs (priority, run_at, id) WHERE suspect AND state IN ('ready', 'scheduled');
`;
