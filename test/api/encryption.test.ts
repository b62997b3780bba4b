// new Errand({ encryption }) in one process: bad keys refused with a clear error before anything is opened; the
// envelope's cipher (a tampered value, a key under the wrong id, values sealed inside other values); what an Errand
// reads, hears and shows with and without the key: job records, events, the dashboard's page and API.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { DecryptionError, Errand, InvalidArgsError, startDashboard, type ErrandEvent } from "../../src/index.js";
import { Sealer, showSealed } from "../../src/01-core/encryption.js";
import type { Backend } from "../../src/02-storage/backend.js";
import { reencrypt } from "../../src/10-client/reencrypt.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { waitFor } from "../helpers/cli.js";
import { freshSqliteUrl, tempDir } from "../helpers/tmp.js";

const KEY = randomBytes(32).toString("base64");

describe("encryption keys", () => {
  it("refuses keys that cannot work, naming what is wrong, and opens nothing", () => {
    const dir = tempDir();
    const database = `sqlite:${join(dir, "never.db")}`;
    const refused = (encryption: unknown, message: RegExp) =>
      assert.throws(
        () => new Errand({ database, logger: silentLogger, encryption } as never),
        (e) => e instanceof InvalidArgsError && message.test(e.message) && !e.message.includes(KEY),
      );
    refused(
      { keys: [{ id: "short", key: randomBytes(16).toString("base64") }] },
      /"short"\): key is 16 bytes once decoded from base64; AES-256-GCM needs exactly 32/,
    );
    refused(
      { keys: [{ id: "bytes", key: new Uint8Array(31) }] },
      /"bytes"\): key is 31 bytes; AES-256-GCM needs exactly 32/,
    );
    refused({ keys: [{ id: "text", key: "not base64!" }] }, /"text"\): key is not base64 text/);
    refused({ keys: [] }, /must list at least one key, newest first/);
    refused({ keys: [{ id: "a b", key: KEY }] }, /id must be 1 to 64 letters, digits/);
    refused(
      {
        keys: [
          { id: "dup", key: KEY },
          { id: "dup", key: KEY },
        ],
      },
      /id "dup" is listed twice/,
    );
    // The id and the key the wrong way round: the key is never printed, and the message says what looks wrong.
    refused({ keys: [{ id: KEY, key: "2026-12" }] }, /got 44 characters .*the id and the key the wrong way round/);
    refused({ keys: [{ id: "x", key: KEY }], rotate: true }, /unknown option "rotate"/);
    const before = process.env.ERRAND_ENCRYPTION_KEYS;
    try {
      process.env.ERRAND_ENCRYPTION_KEYS = KEY;
      assert.throws(
        () => new Errand({ database, logger: silentLogger }),
        /ERRAND_ENCRYPTION_KEYS: entry 1 is not "<id>:<base64 key>"/,
      );
      process.env.ERRAND_ENCRYPTION_KEYS = `${KEY}:2026-12`;
      assert.throws(
        () => new Errand({ database, logger: silentLogger }),
        (e) => e instanceof InvalidArgsError && /wrong way round/.test(e.message) && !e.message.includes(KEY),
      );
      process.env.ERRAND_ENCRYPTION_KEYS = `old:${randomBytes(24).toString("base64")}`;
      assert.throws(
        () => new Errand({ database, logger: silentLogger }),
        /ERRAND_ENCRYPTION_KEYS key 1 \("old"\): key is 24 bytes/,
      );
    } finally {
      if (before === undefined) delete process.env.ERRAND_ENCRYPTION_KEYS;
      else process.env.ERRAND_ENCRYPTION_KEYS = before;
    }
    assert.equal(existsSync(join(dir, "never.db")), false, "nothing was created");
  });

  it("opens only what its key sealed, whole or inside other values", () => {
    const sealer = new Sealer({ keys: [{ id: "a", key: KEY }] }, "test");
    const text = JSON.stringify({ card: "4242", nested: [1, "two"] });
    const sealed = sealer.seal(text);
    assert.notEqual(sealer.seal(text), sealed, "a fresh IV each time");
    assert.equal(sealer.open(sealed, true), text);
    // A chord's args: its members' sealed results inside an array.
    const inside = `[${sealed},null,${sealer.seal('"x"')}]`;
    assert.deepEqual(JSON.parse(sealer.open(inside, true)), [JSON.parse(text), null, "x"]);
    assert.equal(sealer.open('{"plain":true}', true), '{"plain":true}', "a value in clear is read as it is");
    const tampered = sealed.replace(/"d":"(.)/, (_, c: string) => `"d":"${c === "A" ? "B" : "A"}`);
    assert.throws(
      () => sealer.open(tampered, true),
      (e) => e instanceof DecryptionError && /does not decrypt with key "a"/.test(e.message),
    );
    const other = new Sealer({ keys: [{ id: "a", key: randomBytes(32) }] }, "test");
    assert.throws(
      () => other.open(sealed, true),
      (e) => e instanceof DecryptionError && e.keyId === "a",
    );
    const stranger = new Sealer({ keys: [{ id: "b", key: KEY }] }, "test");
    assert.throws(() => stranger.open(sealed, true), /key "a", which is not among this Errand's encryption keys \(b\)/);
    assert.equal(stranger.open(sealed, false), sealed, "a reader that cannot open it gets the envelope");
    assert.deepEqual(showSealed(JSON.parse(inside)), ["[encrypted: key a]", null, "[encrypted: key a]"]);
  });
});

describe("an encrypted Errand's reads, events and dashboard", () => {
  it("decrypts what it reads and hears; without the key the dashboard shows it encrypted", async () => {
    const database = freshSqliteUrl(tempDir());
    const keys = [{ id: "2026-12", key: KEY }];
    const errand = new Errand({ database, logger: silentLogger, encryption: { keys } });
    const heard: ErrandEvent[] = [];
    errand.on("succeeded", (e) => void heard.push(e));
    errand.on("progress", (e) => void heard.push(e));
    const pay = errand.task("pay", async (args: { card: string }, ctx) => {
      await ctx.progress({ stage: `CHARGING-${args.card}` });
      return { receipt: `RECEIPT-${args.card}` };
    });
    const job = await pay.enqueue({ card: "CARD-4242" });
    const worker = await errand.work();
    assert.deepEqual(await job.result({ timeout: "10s" }), { receipt: "RECEIPT-CARD-4242" });
    await worker.stop();
    await waitFor("both events", () => heard.length === 2);
    assert.deepEqual(
      heard.map((e) => ("result" in e ? e.result : "progress" in e ? e.progress : null)).sort(),
      [{ stage: "CHARGING-CARD-4242" }, { receipt: "RECEIPT-CARD-4242" }].sort(),
    );
    assert.deepEqual((await errand.listJobs({ task: "pay" }))[0]!.args, { card: "CARD-4242" });
    // A schedule's args are sealed as a job's are, and its jobs carry them sealed.
    await errand.schedules.upsert("nightly", { task: pay, cron: "0 3 * * *", args: { card: "CARD-NIGHTLY" } });
    assert.deepEqual((await errand.schedules.get("nightly"))!.args, { card: "CARD-NIGHTLY" });
    const triggered = await errand.schedules.trigger("nightly");
    assert.deepEqual((await triggered.get()).args, { card: "CARD-NIGHTLY" });
    const file = database.slice("sqlite:".length);
    const raw = [file, `${file}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f, "latin1"))
      .join("");
    assert.ok(raw.includes("$errand_enc") && !raw.includes("CARD-"), "nothing of the args is stored in clear");

    const plain = new Errand({ database, logger: silentLogger });
    for (const [who, shown] of [
      [plain, false],
      [errand, true],
    ] as const) {
      const dashboard = await startDashboard(who, { port: 0 });
      try {
        const page = await (await fetch(new URL(`/jobs/${job.id}`, dashboard.url))).text();
        const api = await (await fetch(new URL(`/api/jobs/${job.id}`, dashboard.url))).text();
        for (const body of [page, api]) {
          if (shown) {
            assert.match(body, /CARD-4242/);
            assert.match(body, /RECEIPT-CARD-4242/);
          } else {
            assert.doesNotMatch(body, /CARD-4242/);
            assert.match(body, /\[encrypted: key 2026-12\]/);
          }
        }
      } finally {
        await dashboard.close();
      }
    }
    await Promise.all([errand.close(), plain.close()]);
  });

  it("runs a job enqueued from SQL as it was stored, in clear, and seals the args a failure's event carries", async () => {
    const database = freshSqliteUrl(tempDir());
    const errand = new Errand({ database, logger: silentLogger, encryption: { keys: [{ id: "k", key: KEY }] } });
    const heard: ErrandEvent[] = [];
    errand.on("retrying", (e) => void heard.push(e));
    errand.task("greet", (args: { name: string }) => `hello ${args.name}`);
    const flaky = errand.task(
      "flaky",
      (args: { card: string }, ctx) => {
        if (ctx.attempt === 1) throw new Error("declined");
        return args.card.length;
      },
      { backoff: { base: "10ms", max: "10ms" } },
    );
    const failing = await flaky.enqueue({ card: "FAILED-CARD-0042" });
    const worker = await errand.work(); // stores the tasks' definitions: SQL enqueues take them from there
    try {
      const db = new Database(database.slice("sqlite:".length));
      db.prepare("INSERT INTO errand_enqueue (task, args) VALUES ('greet', ?)").run('{"name": "from SQL"}');
      db.close();
      const [fromSql] = await waitFor("the SQL job", async () =>
        (await errand.listJobs({ task: "greet" })).filter((j) => j.state === "succeeded"),
      );
      assert.deepEqual([fromSql!.args, fromSql!.result], [{ name: "from SQL" }, "hello from SQL"]);
      assert.equal(await failing.result({ timeout: "10s" }), 16);
    } finally {
      await worker.stop();
      await errand.close();
    }
    await waitFor("the retrying event", () => heard.length === 1);
    assert.deepEqual((heard[0] as { args?: unknown }).args, { card: "FAILED-CARD-0042" }, "opened for listeners");
    const file = database.slice("sqlite:".length);
    const raw = [file, `${file}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f, "latin1"))
      .join("");
    assert.ok(raw.includes("from SQL"), "the SQL job's args are stored as given, in clear");
    assert.ok(!raw.includes("FAILED-CARD"), "the failure's event row holds the args sealed");
  });

  it("fails the attempt of a job whose stored args no longer parse, and claims the rest", async () => {
    const dir = tempDir();
    const database = freshSqliteUrl(dir);
    const errand = new Errand({ database, logger: silentLogger, encryption: { keys: [{ id: "k", key: KEY }] } });
    const echo = errand.task("echo", (args: { n: number }) => args, { maxAttempts: 1 });
    const broken = await echo.enqueue({ n: 1 });
    const fine = await echo.enqueue({ n: 2 });
    const db = new Database(database.slice("sqlite:".length));
    db.prepare("UPDATE errand_jobs SET args = ? WHERE id = ?").run('{"$errand_enc":"v1", cut short', broken.id);
    const worker = await errand.work();
    try {
      assert.deepEqual(await fine.result({ timeout: "10s" }), { n: 2 });
      // Read raw: the record's own reader cannot parse those args either.
      const failed = await waitFor("the broken job's failure", () => {
        const row = db.prepare("SELECT state, errors FROM errand_jobs WHERE id = ?").get(broken.id) as {
          state: string;
          errors: string;
        };
        return row.state === "failed" ? row : null;
      });
      assert.match(failed.errors, /args cannot be read: they are not JSON/);
    } finally {
      db.close();
      await worker.stop();
      await errand.close();
    }
  });

  it("refuses an envelope to code that asked for the value, and searches only what it shows", async () => {
    const database = freshSqliteUrl(tempDir());
    const [current, old] = [
      { id: "2026-12", key: KEY },
      { id: "2026-06", key: randomBytes(32).toString("base64") },
    ];
    const worker = new Errand({ database, logger: silentLogger, encryption: { keys: [current, old] } });
    const reader = new Errand({ database, logger: silentLogger, encryption: { keys: [old] } });
    const define = (e: Errand) => e.task("card", (args: { card: string }) => ({ last4: args.card.slice(-4) }));
    define(worker);
    const card = define(reader);
    const job = await card.enqueue({ card: "CARD-4242" });
    const chain = await reader.chain(card.with({ card: "CARD-1111" })).enqueue();
    const running = await worker.work();
    try {
      await (await worker.getJob(job.id))!.result({ timeout: "10s" });
      await worker.flow(chain.id).result({ timeout: "10s" });
    } finally {
      await running.stop();
    }
    // The reader lacks the newest key, which sealed the results: an error naming it, never the envelope.
    await assert.rejects(job.result({ timeout: "1s" }), (e) => e instanceof DecryptionError && e.keyId === "2026-12");
    await assert.rejects(
      reader.flow(chain.id).result({ timeout: "1s" }),
      /flow \d+'s result is encrypted with key "2026-12"/,
    );
    // The dashboard's search matches the stored text, the envelope: it keeps only what the page shows, so neither the
    // envelope's own text nor (encrypted) the args' text finds the job.
    for (const who of [worker, new Errand({ database, logger: silentLogger })]) {
      const dashboard = await startDashboard(who, { port: 0 });
      try {
        // Without the key the page shows "[encrypted: key 2026-06]": that id is on it, and found.
        for (const q of who.encrypts ? ["2026-06", "errand_enc", "CARD"] : ["errand_enc", "iv"]) {
          const page = await (await fetch(new URL(`/jobs?q=${q}`, dashboard.url))).text();
          assert.doesNotMatch(page, new RegExp(`href="/jobs/${job.id}"`), `q=${q}`);
        }
        const flowPage = await (await fetch(new URL(`/flows/${chain.id}`, dashboard.url))).text();
        if (!who.encrypts) assert.match(flowPage, /\[encrypted: key 2026-12\]/, "a flow member's result");
        else assert.match(flowPage, /1111/, "a flow member's result, decrypted");
      } finally {
        await dashboard.close();
      }
      if (who !== worker) await who.close();
    }
    await Promise.all([worker.close(), reader.close()]);
  });

  it("reencrypts what a worker wrote meanwhile in another pass, and counts what is not JSON", async () => {
    const dir = tempDir();
    const database = freshSqliteUrl(dir);
    const old = { id: "old", key: randomBytes(32).toString("base64") };
    const current = { id: "new", key: KEY };
    const before = new Errand({ database, logger: silentLogger, encryption: { keys: [old] } });
    const task = before.task("t", (_: { n: number }) => null);
    const jobs = await Promise.all([1, 2, 3].map((n) => task.enqueue({ n })));
    const broken = await task.enqueue({ n: 4 });
    await before.close();
    const db = new Database(database.slice("sqlite:".length));
    db.prepare("UPDATE errand_jobs SET args = ? WHERE id = ?").run('{"$errand_enc":"v1", cut', broken.id);
    const after = new Errand({ database, logger: silentLogger, encryption: { keys: [current, old] } });
    const backend = await after.backend();
    // A worker's write lands between the first batch's read and its rewrite: that row is left, and taken again.
    let raced = false;
    const racing = new Proxy(backend, {
      get(target, prop) {
        if (prop !== "writePayloads") return Reflect.get(target, prop, target) as unknown;
        return async (...a: Parameters<Backend["writePayloads"]>) => {
          if (!raced) {
            raced = true;
            const stale = db.prepare("SELECT args FROM errand_jobs WHERE id = ?").get(jobs[0]!.id) as { args: string };
            db.prepare("UPDATE errand_jobs SET args = ? WHERE id = ?").run(` ${stale.args}`, jobs[0]!.id);
          }
          return target.writePayloads(...a);
        };
      },
    });
    const result = await reencrypt(racing, new Sealer({ keys: [current, old] }, "test"), { batchSize: 2 });
    assert.deepEqual(result.unreadable, { "not JSON": 1 }, "the broken row is counted, and the run goes on");
    assert.equal(result.left, 0);
    assert.equal(result.passes, 2, "a second pass took the row the worker changed");
    assert.equal(result.rewritten, 3);
    const keys = (db.prepare("SELECT args FROM errand_jobs ORDER BY id").all() as { args: string }[]).map(
      (r) => /"k":"(\w+)"/.exec(r.args)?.[1] ?? "none",
    );
    assert.deepEqual(keys, ["new", "new", "new", "none"]);
    db.close();
    await after.close();
  });
});
