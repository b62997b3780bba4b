// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- Jobs that succeeded and failed per minute, appended to by the statements that finish them (as counts is) and
-- folded back to a row per minute, so that the throughput chart reads an hour as 60 rows, not every job of that
-- hour. Pruned with the jobs, a retention period later.
CREATE TABLE $schema.throughput (
  minute    timestamptz NOT NULL,
  succeeded bigint      NOT NULL,
  failed    bigint      NOT NULL
);

CREATE INDEX throughput_minute ON $schema.throughput (minute);

INSERT INTO $schema.throughput (minute, succeeded, failed)
SELECT to_timestamp(floor(extract(epoch FROM finished_at) / 60) * 60), count(*) FILTER (WHERE state = 'succeeded'),
       count(*) FILTER (WHERE state = 'failed')
FROM $schema.jobs WHERE state IN ('succeeded', 'failed') AND finished_at IS NOT NULL
GROUP BY 1;

-- Failed jobs stay until retried or deleted, so they pile up: the metrics read the ones that failed since the last
-- scrape from here rather than going through all of them.
CREATE INDEX jobs_failed_at ON $schema.jobs (finished_at) WHERE state = 'failed';
`;
