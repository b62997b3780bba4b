// pg-boss, an anchor for the PostgreSQL figures, on the same server in the same run. pg-boss polls (no LISTEN) and
// waits out its polling interval after each fetch; its fastest settings are the shortest interval it accepts and
// batched fetches, with concurrency by calling work() several times. Run as a script (`node pg-boss.mjs drain <url>
// <n> <concurrency>`) it is the drain's worker process.
import PgBoss from "pg-boss";
import { fileURLToPath } from "node:url";
import { reportFailures, resultOfChild, whenStored } from "../lib/child.mjs";
import { versionOf } from "./version.mjs";
import { cpuMeter } from "../lib/cpu.mjs";

const QUEUE = "send-email";
const BATCH = 100;
const POLL_SECONDS = 0.5;

async function startBoss(url, options = {}) {
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, ...options });
  boss.on("error", (error) => console.error("pg-boss:", error.message));
  await boss.start();
  await boss.createQueue(QUEUE);
  return boss;
}

export const anchor = {
  name: "pg-boss",
  version: versionOf("pg-boss"),
  /** At ~2,000 jobs/s at best (10 fetches of 100 per half second), a larger drain only makes the run longer. */
  maxDrain: 20_000,
  settings: `send(); worker: work() called 10 times (its way to run 10 at once), batchSize ${BATCH}, pollingIntervalSeconds ${POLL_SECONDS} (its minimum)`,

  async openEnqueue(backend) {
    const boss = await startBoss(await backend.databaseUrl("pgboss-enqueue"));
    return { enqueue: (args) => boss.send(QUEUE, args), close: () => boss.stop({ graceful: false, wait: true }) };
  },

  async drain(backend, n, concurrency, trial) {
    const url = await backend.databaseUrl(`pgboss-drain-${n}-${trial}`);
    const boss = await startBoss(url);
    for (let i = 0; i < n; i += 1000) {
      await boss.insert(
        Array.from({ length: Math.min(1000, n - i) }, () => ({ name: QUEUE, data: { to: "user@example.com" } })),
      );
    }
    await boss.stop({ graceful: false, wait: true });
    return resultOfChild(fileURLToPath(import.meta.url), ["drain", url, n, concurrency]);
  },
};

async function drainChild(url, n, concurrency) {
  const boss = await startBoss(url, { supervise: false, max: concurrency + 2 });
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((resolve) => (allHandled = resolve));
  const meter = cpuMeter();
  const started = performance.now();
  for (let i = 0; i < concurrency; i++) {
    await boss.work(QUEUE, { batchSize: BATCH, pollingIntervalSeconds: POLL_SECONDS }, async (jobs) => {
      for (const _job of jobs) if (++handled === n) allHandled(performance.now());
    });
  }
  const handledAt = await handledAll;
  const db = boss.getDb();
  const storedAt = await whenStored(n, async () => {
    const rows = await db.executeSql(
      "SELECT count(*)::int AS c FROM pgboss.job WHERE name = $1 AND state = 'completed'",
      [QUEUE],
    );
    return rows.rows[0].c;
  });
  const cpu = meter.stop();
  await boss.stop({ graceful: false, wait: true });
  process.send({ type: "drained", handledMs: handledAt - started, storedMs: storedAt - started, cpu });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "drain") {
  reportFailures();
  const [url, n, concurrency] = process.argv.slice(3);
  await drainChild(url, Number(n), Number(concurrency));
}
