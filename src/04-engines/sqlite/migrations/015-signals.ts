// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- Signals sent to a job (errand.signal) and not yet taken by its ctx.waitFor(): a mailbox, oldest first per name.
-- A signal is taken in the transaction that stores it as the wait's step, so it is delivered once.
CREATE TABLE errand_signals (
  id      INTEGER PRIMARY KEY,
  job_id  INTEGER NOT NULL,
  name    TEXT    NOT NULL,
  payload TEXT,
  sent_at INTEGER NOT NULL
);
CREATE INDEX errand_signals_job ON errand_signals (job_id, name, id);
-- A job's kept signals go with it, however it is deleted (pruned, by an operator).
CREATE TRIGGER errand_signals_gone AFTER DELETE ON errand_jobs
BEGIN
  DELETE FROM errand_signals WHERE job_id = OLD.id;
END;
-- The signal a job's handler waits for (ctx.waitFor), from when. A signal and the job's own suspension both write
-- this row, so whichever comes second finds what the first did (as waiting_for does for children).
ALTER TABLE errand_jobs ADD COLUMN waiting_signal TEXT;
ALTER TABLE errand_jobs ADD COLUMN waiting_since INTEGER;
`;
