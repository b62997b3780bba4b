// Many finished jobs at once, written the way a table fills over days (a bulk INSERT, not one enqueue per job), with
// errand's counts of finished jobs brought up to date as errand's migration does.
import type Database from "better-sqlite3";

/** Inserts `rows` finished jobs finished over the two hours before `now`; returns the id of one in the middle. */
export function buildFinishedJobs(db: Database.Database, rows: number, now: number): number {
  db.transaction(() => {
    db.prepare(
      /* sql */ `
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
      INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, attempt, max_attempts, created_at,
                               started_at, finished_at, errors)
      SELECT 'task-' || (i % 5), CASE WHEN i % 3 = 0 THEN 'email' ELSE 'default' END,
             CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
             json_object('to', 'user' || i || '@example.com', 'n', i), 0, t, 1, 3, t, t, t + 20,
             CASE WHEN i % 50 = 0 THEN '[{"attempt":1,"name":"Error","message":"boom"}]' ELSE '[]' END
      FROM (SELECT i, :now - 7200000 + (i * 7200000) / :rows AS t FROM n)`,
    ).run({ rows, now });
    db.exec(/* sql */ `
      DELETE FROM errand_counts;
      INSERT INTO errand_counts (queue, state, n)
      SELECT queue, state, count(*) FROM errand_jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
      GROUP BY queue, state;`);
  })();
  return (
    db.prepare("SELECT id FROM errand_jobs ORDER BY id LIMIT 1 OFFSET ?").get(Math.floor(rows / 2)) as {
      id: number;
    }
  ).id;
}
