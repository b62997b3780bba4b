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
    refused({ keys: [{ id: "x", key: KEY }], rotate: true }, /unknown option "rotate"/);
    const before = process.env.ERRAND_ENCRYPTION_KEYS;
    try {
      process.env.ERRAND_ENCRYPTION_KEYS = KEY;
      assert.throws(
        () => new Errand({ database, logger: silentLogger }),
        /ERRAND_ENCRYPTION_KEYS: entry 1 is not "<id>:<base64 key>"/,
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
});
