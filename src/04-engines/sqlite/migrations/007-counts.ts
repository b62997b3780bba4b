// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- Finished jobs per queue and state, kept exact by the statements that move jobs in and out of a finished state (in
-- their transaction), so that status() and the metrics never count a table that holds millions of them. 'expired'
-- counts the cancelled jobs that expired. Jobs still to run are few and counted live from their partial indexes.
CREATE TABLE errand_counts (
  queue TEXT    NOT NULL,
  state TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, state)
) WITHOUT ROWID;

INSERT INTO errand_counts (queue, state, n)
SELECT queue, state, count(*) FROM errand_jobs WHERE state = 'succeeded' OR state = 'failed' OR state = 'cancelled'
GROUP BY queue, state;

INSERT INTO errand_counts (queue, state, n)
SELECT queue, 'expired', count(*) FROM errand_jobs WHERE state = 'cancelled' AND expires_at IS NOT NULL GROUP BY queue;
`;
