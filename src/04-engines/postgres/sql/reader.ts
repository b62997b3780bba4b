import { RUN_TIME_BUCKETS } from "../../../02-storage/reads.js";
import { fragments } from "./fragments.js";

export function readerSql(schema: string) {
  const { jobs, workers, counts, throughput } = fragments(schema);
  return {
    getJob: `SELECT * FROM ${jobs} WHERE id = $1`,
    getJobs: `SELECT * FROM ${jobs} WHERE id = ANY($1::bigint[])`,

    // Newest first, keyset-paginated on id. Only the filters given are in the statement, so that the planner can use
    // the primary key's order and the partial indexes.
    listJobs(filters: readonly ("state" | "task" | "queue" | "before" | "after" | "search")[]): string {
      const sql = {
        state: "state = $",
        task: "task = $",
        queue: "queue = $",
        before: "id < $",
        after: "id > $",
        search: "strpos(args::text, $) > 0",
      };
      const where = filters.map((f, i) => sql[f].replace("$", `$${i + 2}`));
      return `SELECT * FROM ${jobs} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $1`;
    },

    // Jobs still to run, counted live through their partial indexes (few, however many finished ones are stored),
    // and the finished ones from the counts table.
    counts: /* sql */ `
      SELECT queue, state, count FROM (
        SELECT queue, 'scheduled' AS state, count(*)::int AS count FROM ${jobs} WHERE state = 'scheduled' GROUP BY queue
        UNION ALL SELECT queue, 'ready', count(*)::int FROM ${jobs} WHERE state = 'ready' GROUP BY queue
        UNION ALL SELECT queue, 'running', count(*)::int FROM ${jobs} WHERE state = 'running' GROUP BY queue
        UNION ALL SELECT queue, state, sum(n)::int FROM ${counts} WHERE state <> 'expired' GROUP BY queue, state
                  HAVING sum(n) > 0) c
      ORDER BY queue, state`,

    expiredCounts: /* sql */ `
      SELECT queue, sum(n)::int AS count FROM ${counts} WHERE state = 'expired' GROUP BY queue HAVING sum(n) > 0
      ORDER BY queue`,

    // Waiting: ready, or scheduled and already due (no worker has promoted it yet). One branch per partial index.
    waitingByTask: /* sql */ `
      SELECT task, queue, count(*)::int AS count, min(run_at) AS oldest FROM (
        SELECT task, queue, run_at FROM ${jobs} WHERE state = 'ready'
        UNION ALL SELECT task, queue, run_at FROM ${jobs} WHERE state = 'scheduled' AND run_at <= $1
        -- Jobs enqueued from SQL that wait in the intake for a worker defining their task (in the queue they asked).
        UNION ALL SELECT task, coalesce(options ->> 'queue', 'default'), created_at FROM ${schema}.intake) w
      GROUP BY task, queue ORDER BY task, queue`,

    oldestWaiting: /* sql */ `
      SELECT min(run_at) AS oldest FROM (
        SELECT min(run_at) AS run_at FROM ${jobs} WHERE state = 'ready'
        UNION ALL SELECT min(run_at) FROM ${jobs} WHERE state = 'scheduled' AND run_at <= $1
        UNION ALL SELECT min(created_at) FROM ${schema}.intake) w`,

    liveWorkers: `SELECT * FROM ${workers} WHERE expires_at >= $1 ORDER BY started_at`,
    pausedQueues: `SELECT queue, paused_at FROM ${schema}.paused_queues ORDER BY queue`,

    throughput: /* sql */ `
      SELECT (extract(epoch FROM minute) * 1000)::float8 AS minute, sum(succeeded)::int AS succeeded,
        sum(failed)::int AS failed
      FROM ${throughput} WHERE minute >= $1 GROUP BY 1 ORDER BY 1`,

    // One branch per state, each read through its index on finished_at (jobs_prune, jobs_failed_at).
    finishedBetween: ["succeeded", "failed"]
      .map(
        (state) => /* sql */ `
      SELECT task, state, count(*)::int AS count,
        coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)::float8 AS run_seconds,
        ${RUN_TIME_BUCKETS.map((b, i) => `count(*) FILTER (WHERE finished_at - started_at <= interval '${b} seconds')::int AS b${i}`).join(", ")}
      FROM ${jobs}
      WHERE state = '${state}' AND finished_at > $1 AND finished_at <= $2
      GROUP BY task, state`,
      )
      .join("\n      UNION ALL"),
  };
}

export type ReaderSql = ReturnType<typeof readerSql>;
