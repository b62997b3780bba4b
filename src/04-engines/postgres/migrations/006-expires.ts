// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- A job's expiry: no attempt starts at or after it (by the server's clock). NULL, the usual case, never expires (a
-- nullable column without a default: no rewrite). It stays on a job that ended cancelled by expiring, and only
-- there: cancelling by hand or retrying clears it, so "cancelled with an expiry" means expired.
ALTER TABLE $schema.jobs ADD COLUMN expires_at timestamptz;

-- Jobs still to start that will expire: the sweep reads the expired ones here. Jobs without expiry have no entry.
CREATE INDEX jobs_expires ON $schema.jobs (expires_at) WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'ready');

-- Expired jobs, counted per queue by status() and the metrics.
CREATE INDEX jobs_expired ON $schema.jobs (queue) WHERE state = 'cancelled' AND expires_at IS NOT NULL;
`;
