// A worker that holds more than it can write: its outcome writes fall behind (slowed here by a trigger on the
// server), a backlog of outcomes keeps its writer busy, and its leases must still be renewed in time. A second
// worker rescues expired leases meanwhile: any job whose lease lapsed would run twice.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import pg from "pg";
import { runsById, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";
import { freshPostgresDatabase } from "../helpers/postgres.js";

const BUSY = fileURLToPath(new URL("./children/busy-worker.ts", import.meta.url));
const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop().catch(() => {});
});

describe("an overloaded worker on PostgreSQL", () => {
  it("keeps its leases while its outcome writes fall behind: no job runs twice", async () => {
    const db = await freshPostgresDatabase();
    drops.push(db.drop);
    const box = sandbox({ database: db.url });
    await box.errand.migrate();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Each job's success costs the server 2 ms: a batch of 25 outcomes takes 50 ms or more to write, slower than
    // 300 slots finish no-op jobs.
    await client.query(`
      CREATE FUNCTION errand.slow_success() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$;
      CREATE TRIGGER slow_success BEFORE UPDATE ON errand.jobs FOR EACH ROW
        WHEN (NEW.state = 'succeeded' AND OLD.state = 'running') EXECUTE FUNCTION errand.slow_success();`);
    await client.end();
    const n = 3000;
    for (let i = 0; i < n; i += 1000) await box.tasks.record.enqueueMany(Array.from({ length: 1000 }, () => ({})));
    const busy = spawn(process.execPath, ["--import", "tsx", BUSY], {
      env: { ...box.env, ERRAND_TEST_WORKER: JSON.stringify({ concurrency: 300, lease: "1s", maxBatch: 25 }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let busyErr = "";
    busy.stderr.setEncoding("utf8").on("data", (d: string) => (busyErr += d));
    busy.stdout.setEncoding("utf8").on("data", (d: string) => (busyErr += d));
    // The rescuer: a plain worker whose maintenance runs every third of a second.
    const other = startCli(["worker", TASKS, "--concurrency", "2", "--lease", "1s"], box.env);
    try {
      await waitFor(
        `all ${n} jobs to succeed`,
        async () =>
          (await box.errand.status()).counts.filter((c) => c.state === "succeeded").reduce((a, c) => a + c.count, 0) >=
          n,
        120_000,
        () => `${busyErr}\n${other.stderr}`,
      );
    } finally {
      busy.kill("SIGKILL");
      await other.kill("SIGKILL");
    }
    const runs = runsById(box.recordFile);
    assert.equal(runs.size, n, "every job ran");
    const twice = [...runs].filter(([, pids]) => pids.length > 1);
    assert.equal(
      twice.length,
      0,
      `${twice.length} jobs ran more than once (${JSON.stringify(twice.slice(0, 4))}; busy is ${busy.pid}, other ${other.pid}); busy worker said:\n${busyErr.slice(0, 2000)}\nother:${other.stderr.slice(0, 3000)}`,
    );
    assert.doesNotMatch(busyErr, /dropped the outcome/);
  });
});
