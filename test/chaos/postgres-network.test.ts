// A network to PostgreSQL that stops answering (packets dropped, not refused), then heals: every call ends within
// its timeout with BackendUnavailableError, the same Errand and its worker process carry on after the heal, and
// no job is lost, stuck, or run twice unless it was in flight at the fault.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, Socket, type AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BackendUnavailableError, Errand } from "../../src/index.js";
import { startCli, waitFor } from "../helpers/cli.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { appDir, since, sql } from "./app.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const PASSWORD = "s3cret-pw-for-redaction";
const TIMEOUTS = { connectTimeout: "1s", queryTimeout: "2s" } as const;
/** Longest a call may take against a silent server: a connect, or a statement, plus a loaded machine's slack. */
const BOUND_MS = 2_000 + 1_000 + 2_500;

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

async function database(): Promise<string> {
  const db = await freshPostgresDatabase();
  drops.push(db.drop);
  const url = new URL(db.url);
  url.password = PASSWORD; // trust auth ignores it; it must never be shown
  return url.toString();
}

/** Rejects with "still waiting" after `ms`: on the code before timeouts, calls never ended at all. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was still waiting after ${ms}ms`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `call`, expects BackendUnavailableError within the bound, and returns how long it took. */
async function timeToError(what: string, call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const error = await within(
    BOUND_MS + 5_000,
    what,
    call().then(
      () => null,
      (e: unknown) => e,
    ),
  );
  const took = since(t0);
  assert.ok(
    error instanceof BackendUnavailableError,
    `${what}: expected BackendUnavailableError, got ${String(error)}`,
  );
  assert.ok(!error.message.includes(PASSWORD), `${what}: the password must not appear: ${error.message}`);
  assert.ok(took < BOUND_MS, `${what} took ${took}ms, over the ${BOUND_MS}ms bound`);
  return took;
}

const TASKS = `
import { appendFileSync } from "node:fs";
import { Errand } from "errand";
export const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL, postgres: ${JSON.stringify(TIMEOUTS)} });
errand.task("record", async (args, ctx) => {
  appendFileSync(process.env.RECORD_FILE, ctx.id + " " + ctx.attempt + "\\n");
  await new Promise((resolve) => setTimeout(resolve, args.ms));
});
export default errand;
`;

function runs(file: string): Map<string, number> {
  const out = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) if (line) out.set(line.split(" ")[0]!, (out.get(line.split(" ")[0]!) ?? 0) + 1);
  return out;
}

describe("PostgreSQL: a network that stops answering", { timeout: 120_000 }, () => {
  for (const extra of [[], ["--isolate", "thread"]])
    it(`ends every call in time, then the same Errand and its worker carry on, nothing lost, stuck or run twice${extra.length ? ` (worker ${extra.join(" ")})` : ""}`, async () => {
      const direct = await database();
      const proxy = await startFaultProxy(direct);
      const web = new Errand({ database: proxy.url, postgres: TIMEOUTS, logger: quiet });
      const record = web.task("record", async (_args: { ms: number }) => {});
      const dir = appDir({ "tasks.mjs": TASKS });
      const recordFile = join(dir, "record.log");
      const env = { ...process.env, ERRAND_DATABASE_URL: proxy.url, RECORD_FILE: recordFile, ERRAND_LOG_LEVEL: "info" };
      const first = await record.enqueue({ ms: 1 });
      const worker = startCli(
        ["worker", join(dir, "tasks.mjs"), "--concurrency", "4", "--lease", "10s", ...extra],
        env,
        dir,
      );
      const inFlight = new Set<string>();
      const figures: Record<string, unknown>[] = [];
      try {
        for (const drop of [false, true]) {
          const batch = await record.enqueueMany(Array.from({ length: 80 }, () => ({ ms: 60 })));
          const started = runs(recordFile).size;
          await waitFor(
            "the worker to run some of the batch",
            () => runs(recordFile).size >= started + 8,
            20_000,
            () => worker.stderr,
          );

          proxy.blackhole();
          const faultAt = performance.now();
          for (const r of await sql<{ id: string }>(direct, "SELECT id::text FROM errand.jobs WHERE state = 'running'"))
            inFlight.add(r.id);
          // The CLI in its own process, at the same time: it connects anew, so its connect timeout (default 5s) rules.
          const cliStarted = performance.now();
          const cli = startCli(["status"], env, dir);
          const enqueueMs = await timeToError("enqueue", () => record.enqueue({ ms: 1 }));
          const getJobMs = await timeToError("getJob", () => web.getJob(first.id));
          const statusMs = await timeToError("status", () => web.status());
          const cliCode = await cli.exitCode(20_000);
          const cliMs = since(cliStarted);
          assert.equal(
            cliCode,
            1,
            `errand status exits 1 when the database does not answer\n${cli.stdout}\n${cli.stderr}`,
          );
          assert.match(cli.stderr, /Cannot connect to PostgreSQL .* within 5\.0s|did not answer within/);
          assert.ok(
            !`${cli.stdout}${cli.stderr}`.includes(PASSWORD),
            `errand status showed the password:\n${cli.stderr}`,
          );
          assert.ok(cliMs < 5_000 + 6_000, `errand status took ${cliMs}ms`);
          // Long enough for the worker's claims and heartbeats to time out too.
          await sleep(Math.max(0, 5_000 - since(faultAt)));
          const blackholeMs = since(faultAt);

          proxy.heal({ drop });
          const healedAt = performance.now();
          let late: Awaited<ReturnType<typeof record.enqueue>> | undefined;
          while (!late) {
            late = await within(BOUND_MS + 5_000, "enqueue after the heal", record.enqueue({ ms: 1 })).catch(
              (e: unknown) => {
                if (!(e instanceof BackendUnavailableError)) throw e;
                return undefined;
              },
            );
            if (!late && since(healedAt) > 10_000)
              assert.fail("the same Errand still failed 10s after the network healed");
          }
          const recoveryMs = since(healedAt);
          assert.ok(
            await within(BOUND_MS, "getJob after the heal", web.getJob(late.id)),
            "getJob works after the heal",
          );
          await within(BOUND_MS, "status after the heal", web.status());
          const ranBefore = runs(recordFile).size;
          await waitFor(
            "the worker to run jobs again",
            () => runs(recordFile).size > ranBefore,
            20_000,
            () => worker.stderr,
          );
          const workerRecoveryMs = since(healedAt);
          figures.push({
            heal: drop ? "drop" : "deliver",
            blackholeMs,
            enqueueErrorMs: enqueueMs,
            getJobErrorMs: getJobMs,
            statusErrorMs: statusMs,
            cliStatusMs: cliMs,
            recoveryMs,
            workerRecoveryMs,
            batch: batch.length,
          });
        }

        let stateAtEnd: unknown = null;
        const total = Number((await sql<{ n: string }>(direct, "SELECT count(*)::text AS n FROM errand.jobs"))[0]!.n);
        await waitFor(
          `all ${total} jobs to succeed`,
          async () => {
            stateAtEnd = await sql(
              direct,
              "SELECT id, state, attempt, lease_expires_at, worker_id FROM errand.jobs WHERE state <> 'succeeded' ORDER BY id LIMIT 20",
            );
            return (stateAtEnd as unknown[]).length === 0;
          },
          40_000,
          () => {
            // A claim that committed but whose answer was lost leaves jobs leased to a live worker that never saw them.
            const neverRan = (stateAtEnd as { id: string; state: string }[]).filter(
              (j) => j.state === "running" && !runs(recordFile).has(String(j.id)),
            );
            const orphans =
              neverRan.length > 0
                ? `\n${neverRan.length} of them are leased to the worker but never ran: claimed by a claim whose answer was lost, and kept leased as long as their lease is renewed by worker id rather than by token`
                : "";
            return `${JSON.stringify(stateAtEnd)}${orphans}\n${worker.stderr}`;
          },
        );
        const states = await sql<{ state: string; n: string }>(
          direct,
          "SELECT state, count(*)::text AS n FROM errand.jobs GROUP BY state",
        );
        const count = (s: string) => Number(states.find((r) => r.state === s)?.n ?? 0);
        const ran = runs(recordFile);
        const duplicated = [...ran].filter(([, n]) => n > 1).map(([id]) => id);
        const unexpected = duplicated.filter((id) => !inFlight.has(id));
        const summary = {
          jobs: total,
          lost: total - count("succeeded"),
          stuck: count("running") + count("ready") + count("scheduled"),
          duplicated: duplicated.length,
          duplicatedNotInFlight: unexpected.length,
          inFlightAtFaults: inFlight.size,
        };
        console.log("network faults:", JSON.stringify(figures, null, 1));
        console.log("after both faults:", summary);
        assert.equal(summary.lost, 0);
        assert.equal(summary.stuck, 0);
        assert.deepEqual(unexpected, [], "jobs run twice that were not in flight at a fault");
        assert.ok(!worker.hasExited, `the worker process stayed up\n${worker.stderr}`);
        const problems = worker.stderr
          .split("\n")
          .filter((line) => /PostgreSQL/.test(line) && /^errand (error|warn)/.test(line));
        assert.ok(problems.length > 0, "the worker logged the outage");
        assert.ok(!problems.some((line) => line.includes(PASSWORD)), "the worker's errors must not show the password");
      } finally {
        await worker.kill("SIGTERM");
        await within(15_000, "the worker to stop", worker.exitCode(15_000)).catch(() => worker.kill("SIGKILL"));
        await within(10_000, "web.close()", web.close()).catch(() => {});
        await proxy.close();
      }
    });

  it("refuses bad timeout options at construction, naming the option", () => {
    assert.throws(
      () => new Errand({ database: "postgres://u@127.0.0.1/db", postgres: { queryTimeout: "soon" as never } }),
      {
        name: "InvalidArgsError",
        message: /postgres\.queryTimeout: cannot read "soon" as a duration/,
      },
    );
    assert.throws(
      () => new Errand({ database: "postgres://u@127.0.0.1/db", postgres: { connectTimeout: 0 } }),
      /postgres\.connectTimeout: must be more than zero/,
    );
    assert.throws(
      () => new Errand({ database: "postgres://u@127.0.0.1/db", postgres: { connectTimout: "1s" } as never }),
      /Did you mean `connectTimeout`/,
    );
  });

  it("the LISTEN connection notices a server gone silent and listens again on a new one", async () => {
    const direct = await database();
    const proxy = await silentProxy(direct);
    const errand = new Errand({
      database: proxy.url,
      postgres: { connectTimeout: "1s", queryTimeout: "1s" },
      logger: quiet,
    });
    const picked = new Map<string, number>();
    errand.task("t", async (_args: object, ctx) => void picked.set(ctx.id, performance.now()));
    const other = new Errand({ database: direct, logger: quiet });
    const t = other.task("t", async () => {});
    // Polling once a minute: within the test, only a notification wakes the worker.
    const worker = await errand.work({ pollInterval: "1m", concurrency: 2 });
    try {
      const pickup = async (what: string, ms: number) => {
        const enqueuedAt = performance.now();
        const job = await t.enqueue({});
        await waitFor(what, () => picked.has(job.id), ms);
        return Math.round(picked.get(job.id)! - enqueuedAt);
      };
      const beforeMs = await pickup("a job to be picked up on notification", 5_000);
      // The server side of every open connection vanishes; the client side hears nothing, ever (no RST, no FIN).
      proxy.silenceAll();
      const silencedAt = performance.now();
      await sleep(500);
      const afterMs = await pickup("a job enqueued after the silence to be picked up without polling", 12_000);
      const figures = { pickupBeforeMs: beforeMs, pickupAfterSilenceMs: afterMs, sinceSilenceMs: since(silencedAt) };
      console.log("LISTEN after a silent peer:", figures);
    } finally {
      await within(10_000, "worker.stop()", worker.stop({ grace: "1s" })).catch(() => {});
      await within(10_000, "errand.close()", errand.close()).catch(() => {});
      await other.close();
      await proxy.close();
    }
  });
});

/**
 * A proxy whose silenceAll() closes the server side of each open connection but leaves the client side open and
 * mute: what a client sees when the server host vanishes (no reset, no answer). New connections work as usual.
 */
async function silentProxy(targetUrl: string) {
  const target = new URL(targetUrl);
  const links = new Set<{ client: Socket; server: Socket; silent: boolean }>();
  const server = createServer((client) => {
    const upstream = new Socket();
    const link = { client, server: upstream, silent: false };
    links.add(link);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => link.silent || client.destroy());
    upstream.on("close", () => link.silent || client.destroy());
    client.on("close", () => {
      upstream.destroy();
      links.delete(link);
    });
    client.on("data", (chunk: Buffer) => link.silent || upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => link.silent || client.write(chunk));
    upstream.connect(Number(target.port || 5432), target.hostname);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(targetUrl);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    silenceAll() {
      for (const link of links) {
        link.silent = true;
        link.server.destroy();
      }
    },
    close() {
      for (const link of links) link.client.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
