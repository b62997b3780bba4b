// Encryption at rest across real worker processes, on both backends: args, step results, progress, signal payloads,
// results and a chain's hand-off never reach the database in clear (the raw file, or every table's rows); workers
// given the keys rotated (a new key first, the old one after) read what the old key sealed; an Errand without keys
// reads envelopes and the CLI shows "[encrypted: key <id>]"; a job whose key no worker has fails its attempt naming
// that key while the worker goes on; `errand reencrypt` moves everything to the newest key, leaving what it cannot
// decrypt as it was.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import pg from "pg";
import { Errand, type EncryptionKey } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { output, runCliAlone, waitFor } from "../helpers/cli.js";
import { bothBackends } from "../helpers/databases.js";
import { Workers } from "../flow/limits.js";

const TASKS = fileURLToPath(new URL("./fixtures/sealed-tasks.ts", import.meta.url));
const key = (id: string): EncryptionKey => ({ id, key: randomBytes(32).toString("base64") });
const env = (keys: readonly EncryptionKey[]) => keys.map((k) => `${k.id}:${String(k.key)}`).join(",");

/** Everything the database holds, as bytes would show it: the SQLite file and its WAL, or every table's rows. */
async function rawDatabase(url: string): Promise<string> {
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length);
    return [file, `${file}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f, "latin1"))
      .join("\n");
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'errand'",
    );
    assert.ok(tables.rows.length > 5, "errand's tables are found");
    let all = "";
    for (const { name } of tables.rows) {
      const rows = await client.query<{ t: string }>(`SELECT t::text AS t FROM errand."${name}" t`);
      all += rows.rows.map((r) => r.t).join("\n");
    }
    return all;
  } finally {
    await client.end();
  }
}

interface Sealed {
  echo: string;
  step: { derived: string };
  signal: { word: string };
  result: string;
}

// The two backends at once: each mostly waits for processes.
describe("encryption at rest across worker processes", { concurrency: 2 }, () => {
  for (const [name, database] of bothBackends()) {
    describe(name, () => {
      it(`seals every payload, reads it with rotated keys, and reencrypts (${name})`, async () => {
        const url = await database();
        const [old, current] = [key("2026-06"), key("2026-12")];
        const cli = (keys: readonly EncryptionKey[] | null, ...args: string[]) =>
          runCliAlone([...args, "--database", url], {
            ...process.env,
            ERRAND_DATABASE_URL: "",
            ERRAND_ENCRYPTION_KEYS: keys ? env(keys) : "",
          });
        // The application still on the old key enqueues and signals.
        const app = new Errand({ database: url, logger: silentLogger, encryption: { keys: [old] } });
        const sealed = app.task("sealed", (_: { secret: string }) => ({}) as Sealed);
        const first = app.task("first", (_: { secret: string }) => ({}) as { handed: string });
        const second = app.task("second", (_: { handed: string }) => ({}) as { got: string });
        const job = await sealed.enqueue({ secret: "ARGS-SECRET" });
        assert.deepEqual(await job.signal("go", { word: "SIGNAL-SECRET" }), { sent: true, jobId: job.id });
        const chain = await app.chain(first.with({ secret: "CHAIN-SECRET" }), second).enqueue();
        // The workers already have the new key first, and the old one to read what it sealed.
        const workers = new Workers(
          { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_ENCRYPTION_KEYS: env([current, old]) },
          1,
          TASKS,
        );
        // What the workers write is sealed under the new key: read with both.
        const reader = new Errand({ database: url, logger: silentLogger, encryption: { keys: [current, old] } });
        try {
          assert.deepEqual(await (await reader.getJob(job.id))!.result({ timeout: "30s" }), {
            echo: "ARGS-SECRET",
            step: { derived: "STEP-ARGS-SECRET" },
            signal: { word: "SIGNAL-SECRET" },
            result: "RESULT-ARGS-SECRET",
          });
          assert.deepEqual(await reader.flow(chain.id).result({ timeout: "30s" }), { got: "HANDED-CHAIN-SECRET" });
          assert.deepEqual((await (await reader.getJob(job.id))!.get()).progress, { note: "PROGRESS-ARGS-SECRET" });
        } finally {
          await workers.stop();
        }
        const raw = await rawDatabase(url);
        assert.ok(raw.includes("$errand_enc"), "the envelopes are there");
        assert.ok(
          !raw.includes("SECRET"),
          `no payload is stored in clear: ${raw.match(/.{40}SECRET.{20}/)?.[0] ?? ""}`,
        );

        // Without keys: the envelope itself, and the CLI says what it cannot show.
        const plain = new Errand({ database: url, logger: silentLogger });
        const stored = await plain.getJob(job.id).then((j) => j!.get());
        assert.equal((stored.args as { k: string }).k, "2026-06", "args stay under the key that sealed them");
        assert.equal((stored.result as { k: string }).k, "2026-12", "the worker seals with the newest key");
        const blind = await cli(null, "show", job.id);
        assert.equal(blind.code, 0, output(blind));
        assert.match(blind.stdout, /\[encrypted: key 2026-06\]/);
        assert.match(blind.stdout, /\[encrypted: key 2026-12\]/);
        assert.doesNotMatch(blind.stdout, /SECRET/);
        const listed = await cli(null, "jobs", "--task", "sealed", "--json");
        assert.equal(listed.code, 0, output(listed));
        assert.doesNotMatch(listed.stdout, /SECRET/);
        assert.match(listed.stdout, /\[encrypted: key 2026-06\]/, "the list's args");
        assert.match(listed.stdout, /\[encrypted: key 2026-12\]/, "the list's result and progress");
        const seeing = await cli([current, old], "show", job.id);
        assert.match(seeing.stdout, /ARGS-SECRET/, output(seeing));
        assert.match(seeing.stdout, /RESULT-ARGS-SECRET/);

        // Reencrypt: everything moves to the newest key, and the old key can go.
        const moved = await cli([current, old], "reencrypt", "--batch-size", "2", "--json");
        assert.equal(moved.code, 0, output(moved));
        const report = JSON.parse(moved.stdout) as { rows: number; rewritten: number; unreadable: object };
        assert.ok(report.rewritten >= 3, `the job's args, the chain's args and a step at least: ${moved.stdout}`);
        assert.deepEqual(report.unreadable, {});
        const again = await cli([current, old], "reencrypt", "--json");
        assert.equal(
          (JSON.parse(again.stdout) as { rewritten: number }).rewritten,
          0,
          "a second run has nothing to do",
        );
        const renewed = new Errand({ database: url, logger: silentLogger, encryption: { keys: [current] } });
        const read = await renewed.getJob(job.id).then((j) => j!.get());
        assert.deepEqual(read.args, { secret: "ARGS-SECRET" });
        assert.equal((read.result as Sealed).result, "RESULT-ARGS-SECRET");
        assert.deepEqual(await renewed.flow(chain.id).result({ timeout: "1s" }), { got: "HANDED-CHAIN-SECRET" });
        assert.ok(!(await rawDatabase(url)).includes("SECRET"), "reencrypt wrote nothing in clear");
        await Promise.all([app.close(), plain.close(), renewed.close(), reader.close()]);
      });

      it(`seals what an isolated handler stores through its worker, and bad keys stop the worker (${name})`, async () => {
        const url = await database();
        const keys = [key("iso")];
        const app = new Errand({ database: url, logger: silentLogger, encryption: { keys } });
        const job = await app
          .task("sealed", (_: { secret: string }) => ({}) as Sealed)
          .enqueue({ secret: "ISOLATED-SECRET" });
        const badKey = `bad:${randomBytes(16).toString("base64")}`;
        const refused = await runCliAlone(["worker", TASKS], {
          ...process.env,
          ERRAND_DATABASE_URL: url,
          ERRAND_ENCRYPTION_KEYS: badKey,
        });
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /ERRAND_ENCRYPTION_KEYS key 1 \("bad"\): key is 16 bytes/);
        assert.ok(!refused.stderr.includes(badKey.slice(4)), "the key is never printed");
        assert.equal((await job.get()).state, "ready", "nothing ran");
        const worker = new Workers(
          { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_ENCRYPTION_KEYS: env(keys) },
          1,
          TASKS,
          ["--isolate", "process", "--pool", "1"],
        );
        try {
          await waitFor(
            "the isolated handler's wait",
            async () => (await job.get()).waitingFor !== null,
            30_000,
            () => worker.stderr,
          );
          assert.equal((await job.signal("go", { word: "ISOLATED-SIGNAL" })).sent, true);
          const result = await job.result({ timeout: "30s" });
          assert.deepEqual(result.step, { derived: "STEP-ISOLATED-SECRET" });
          assert.deepEqual(result.signal, { word: "ISOLATED-SIGNAL" });
        } finally {
          await worker.stop();
        }
        const raw = await rawDatabase(url);
        assert.ok(
          !raw.includes("ISOLATED-"),
          `the isolated handler's step, progress and result are sealed: ${raw.match(/.{60}ISOLATED-.{30}/s)?.[0] ?? ""}`,
        );
        await app.close();
      });

      it(`fails a job no listed key decrypts, naming the key, and runs the rest (${name})`, async () => {
        const url = await database();
        const [known, unknown] = [key("known"), key("lost")];
        const lost = new Errand({ database: url, logger: silentLogger, encryption: { keys: [unknown] } });
        const app = new Errand({ database: url, logger: silentLogger, encryption: { keys: [known] } });
        const plain = new Errand({ database: url, logger: silentLogger });
        const orphan = await lost.task("echo", (a: { n: number }) => a).enqueue({ n: 1 }, { maxAttempts: 1 });
        const echo = app.task("echo", (a: { n: number }) => a);
        const fine = await echo.enqueue({ n: 2 });
        const clear = await plain.task("echo", (a: { n: number }) => a).enqueue({ n: 3 });
        const workers = new Workers(
          { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_ENCRYPTION_KEYS: env([known]) },
          1,
          TASKS,
        );
        try {
          assert.deepEqual(await fine.result({ timeout: "30s" }), { n: 2 });
          const cleared = await app.getJob(clear.id);
          assert.deepEqual(await cleared!.result({ timeout: "30s" }), { n: 3 }, "a job stored in clear runs as it is");
          const failed = await waitFor("the orphan's failure", async () => {
            const r = await orphan.get();
            return r.state === "failed" ? r : null;
          });
          assert.equal(failed.errors.length, 1);
          assert.equal(failed.errors[0]!.name, "DecryptionError");
          assert.match(
            failed.errors[0]!.message,
            /key "lost", which is not among this Errand's encryption keys \(known\)/,
          );
          assert.ok(!failed.errors[0]!.message.includes('"n"'), "the error shows nothing of the args");
          assert.equal(workers.children[0]!.exitCode, null, "the worker is still up");
          const after = await echo.enqueue({ n: 4 });
          assert.deepEqual(await after.result({ timeout: "30s" }), { n: 4 }, "and still runs jobs");
        } finally {
          await workers.stop();
        }
        // Reencrypt leaves what it cannot decrypt as it was, and says which key it lacks.
        const before = await plain.getJob(orphan.id).then((j) => j!.get());
        const ran = await runCliAlone(["reencrypt", "--database", url], {
          ...process.env,
          ERRAND_DATABASE_URL: "",
          ERRAND_ENCRYPTION_KEYS: env([known]),
        });
        assert.equal(ran.code, 1, output(ran));
        assert.match(ran.stdout, /encrypted with key "lost", which is not listed: left as they are/);
        assert.match(ran.stderr, /"lost"/);
        assert.deepEqual((await plain.getJob(orphan.id).then((j) => j!.get())).args, before.args);
        // With the lost key back, the job runs.
        const found = new Errand({ database: url, logger: silentLogger, encryption: { keys: [known, unknown] } });
        found.task("echo", (a: { n: number }) => a);
        assert.equal(await found.retry(orphan.id), true);
        const worker = await found.work({ concurrency: 1 });
        try {
          assert.deepEqual(await (await found.getJob(orphan.id))!.result({ timeout: "20s" }), { n: 1 });
        } finally {
          await worker.stop();
        }
        await Promise.all([lost.close(), app.close(), plain.close(), found.close()]);
      });
    });
  }
});
