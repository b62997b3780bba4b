// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- A job's expiry (ms): no attempt starts at or after it. NULL, the usual case, never expires. It stays on a job that
-- ended cancelled by expiring, and only there: cancelling by hand or retrying clears it, so "cancelled with an
-- expiry" means expired.
ALTER TABLE errand_jobs ADD COLUMN expires_at INTEGER;

-- Jobs still to start that will expire, in expiry order: the sweep reads the expired ones from the front. Jobs
-- without expiry have no entry, so this costs them nothing.
CREATE INDEX errand_jobs_expires ON errand_jobs (expires_at)
  WHERE expires_at IS NOT NULL AND (state = 'scheduled' OR state = 'ready');

-- Expired jobs, counted per queue by status() and the metrics.
CREATE INDEX errand_jobs_expired ON errand_jobs (queue) WHERE state = 'cancelled' AND expires_at IS NOT NULL;
`;
