// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- Finished jobs per queue and state ('expired': the cancelled ones that expired), so that status() and the metrics
-- never count a table that holds millions of them. Each statement that moves jobs in or out of a finished state
-- appends its change (a row per queue and state) in the same statement: appending never waits on another worker,
-- where one counter row per queue would serialize every completion. foldCounts() sums the rows back to one per
-- queue and state. Jobs still to run are few and counted live from their partial indexes.
CREATE TABLE $schema.counts (
  queue text   NOT NULL,
  state text   NOT NULL,
  n     bigint NOT NULL
);

INSERT INTO $schema.counts (queue, state, n)
SELECT queue, state, count(*) FROM $schema.jobs WHERE state IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, state;

INSERT INTO $schema.counts (queue, state, n)
SELECT queue, 'expired', count(*) FROM $schema.jobs WHERE state = 'cancelled' AND expires_at IS NOT NULL GROUP BY queue;
`;
