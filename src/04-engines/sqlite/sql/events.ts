// The statements of events.ts: errand_events, the rows that carry job events between processes.

export const INSERT = /* sql */ `INSERT INTO errand_events (at, payload) VALUES (?, ?)`;
// The newest row stays, so that seq never goes back (an INTEGER PRIMARY KEY reuses the highest freed value).
export const PRUNE = /* sql */ `DELETE FROM errand_events WHERE at < ? AND seq < (SELECT max(seq) FROM errand_events)`;
export const LAST_SEQ = /* sql */ `SELECT coalesce(max(seq), 0) AS seq FROM errand_events`;
export const READ = /* sql */ `SELECT seq, payload FROM errand_events WHERE seq > ? ORDER BY seq LIMIT 100`;
export const JOB = /* sql */ `SELECT task, queue, attempt, flow_id, flow_pos FROM errand_jobs WHERE id = ?`;
