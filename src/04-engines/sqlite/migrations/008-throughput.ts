// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- Jobs that succeeded and failed per minute (ms at the minute's start), added to by the same transactions that
-- finish them, so that the throughput chart reads an hour as 60 rows, not every job of that hour. Pruned with the
-- jobs, a retention period later.
CREATE TABLE errand_throughput (
  minute    INTEGER PRIMARY KEY,
  succeeded INTEGER NOT NULL,
  failed    INTEGER NOT NULL
);

INSERT INTO errand_throughput (minute, succeeded, failed)
SELECT (finished_at / 60000) * 60000, sum(state = 'succeeded'), sum(state = 'failed') FROM errand_jobs
WHERE (state = 'succeeded' OR state = 'failed') AND finished_at IS NOT NULL
GROUP BY 1;

-- Failed jobs stay until retried or deleted, so they pile up: the metrics read the ones that failed since the last
-- scrape from here rather than going through all of them.
CREATE INDEX errand_jobs_failed_at ON errand_jobs (finished_at) WHERE state = 'failed';
`;
