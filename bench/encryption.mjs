// Encryption at rest's costs (`npm run bench -- --encryption [--quick] [--backend name]`), in one process, in
// alternating blocks so that both settings see the same conditions:
//   plain:  new Errand({ database }), no encryption;
//   sealed: new Errand({ database, encryption: { keys } }), two keys listed (the newest seals).
// Measured for each: `await task.enqueue(args)` with 1 KB of args, timed one call at a time; an in-process worker's
// drain of no-op jobs with the same args stored beforehand (concurrency 10, the clock stops when it has run them all);
// and how often a marker that is in every job's args appears in the raw database (SQLite: the .db and -wal files'
// bytes; PostgreSQL: `pg_dump --data-only`), which must be 0 when sealed and is above 0 when plain. The codec alone
// (Sealer.seal and open of the same 1 KB of JSON text, and a bare AES-256-GCM pass over it) is timed in the same run,
// to tell how much of the enqueue difference is the cipher: in a tight loop, and one call after a 1 ms pause, as an
// enqueue finds the CPU between two round trips to PostgreSQL.
import { spawn } from "node:child_process";
import { createCipheriv, createSecretKey, randomBytes, randomFillSync } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "errand";
// Not part of errand's API: imported from the build, as scale.mjs imports the engines, to time the codec alone.
import { Sealer } from "../dist/01-core/encryption.js";
import { num, printTable, summarize } from "./lib/stats.mjs";

/** From the issue. */
export const ENCRYPTION_TARGETS = { enqueueP50ExtraUs: 5, drainVsPlain: 0.9, markerWhenSealed: 0 };
const SETTINGS = ["plain", "sealed"];
const MARKER = "errand-bench-plaintext-7c1f";
const KEYS = [
  { id: "2026-12", key: randomBytes(32).toString("base64") },
  { id: "2026-06", key: randomBytes(32).toString("base64") },
];
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

/** Args whose JSON text is exactly `bytes` long: the marker, an address, and words to fill. */
function argsOf(bytes) {
  const base = { to: "user@example.com", marker: MARKER, body: "" };
  const words = "the quick brown fox jumps over a lazy dog while errand stores its durable jobs".split(" ");
  let body = "";
  for (let i = 0; body.length < bytes; i++) body += `${words[(i * 7) % words.length]} `;
  const args = { ...base, body: body.slice(0, bytes - JSON.stringify(base).length) };
  if (JSON.stringify(args).length !== bytes) throw new Error("encryption bench: args are not the size asked for");
  return args;
}
const ARGS = argsOf(1024);

export function encryptionCounts(quick) {
  return quick
    ? { warmup: 500, block: 1_000, rounds: 4, drainJobs: 5_000, drainRounds: 1, codec: 20_000, pausedCalls: 200 }
    : {
        warmup: 2_000,
        block: 5_000,
        rounds: 10,
        drainJobs: 20_000,
        drainRounds: 5,
        codec: 200_000,
        pausedCalls: 1_000,
      };
}

/** Occurrences of MARKER in a stream of bytes, across chunk boundaries, and the bytes read. */
async function countMarker(stream) {
  const needle = Buffer.from(MARKER);
  let found = 0;
  let bytes = 0;
  let carry = Buffer.alloc(0);
  for await (const chunk of stream) {
    bytes += chunk.length;
    const hay = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + needle.length)) found++;
    // The tail that could begin a marker the next chunk completes.
    carry = hay.subarray(Math.max(0, hay.length - needle.length + 1));
  }
  return { found, bytes };
}

/** MARKER's occurrences in a database's raw bytes (SQLite's files, WAL included, or PostgreSQL's data dump), and the
 * bytes searched. */
async function markerInDatabase(url) {
  const file = /^sqlite:(.+)$/.exec(url)?.[1];
  if (file) {
    const total = { found: 0, bytes: 0 };
    for (const path of [file, `${file}-wal`]) {
      if (!existsSync(path)) continue;
      const { found, bytes } = await countMarker(createReadStream(path));
      total.found += found;
      total.bytes += bytes;
    }
    return total;
  }
  const dump = spawn("pg_dump", ["--data-only", `--dbname=${url}`], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve, reject) => {
    dump.on("error", reject);
    dump.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`pg_dump exited with ${code}`))));
  });
  const counted = await countMarker(dump.stdout);
  await exited;
  return counted;
}

async function open(backend, setting, name) {
  const database = await backend.databaseUrl(`encryption-${setting}-${name}`);
  const errand = new Errand({
    database,
    logger: quiet,
    ...(setting === "sealed" ? { encryption: { keys: KEYS } } : {}),
  });
  await errand.migrate();
  return { database, errand, task: errand.task("noop", async () => {}) };
}

/** µs per call of fn over `n` calls, as the median of 10 batches (a clock read per call would weigh as much). */
function perCall(n, fn) {
  const batch = Math.ceil(n / 10);
  const means = [];
  for (let b = 0; b < 10; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    means.push(Number(process.hrtime.bigint() - t0) / 1000 / batch);
  }
  return means.sort((a, b) => a - b)[5];
}

/** p50 µs of single calls of fn, each after a 1 ms pause: as a call between two database round trips finds the CPU. */
async function afterPause(calls, fn) {
  const samples = [];
  for (let i = 0; i < calls; i++) {
    await sleep(1);
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return summarize(samples).p50;
}

/**
 * Sealer.seal and open of the args' JSON text, and AES-256-GCM alone over the same bytes (no envelope, no base64):
 * in a tight loop (caches warm), and one call at a time after a pause (caches and CPU gone cold, as on PostgreSQL).
 */
async function timeCodec(n, pausedCalls) {
  const sealer = new Sealer({ keys: KEYS }, "bench");
  const text = JSON.stringify(ARGS);
  const sealed = sealer.seal(text);
  if (sealer.open(sealed, true) !== text) throw new Error("encryption bench: the codec does not round-trip");
  // A KeyObject made once, as the Sealer holds it (a raw key would be imported again on every call).
  const key = createSecretKey(Buffer.from(KEYS[0].key, "base64"));
  const iv = randomFillSync(Buffer.alloc(12)); // the same IV on every call: these ciphertexts are only timed
  const perCallFn = {
    seal: () => sealer.seal(text),
    open: () => sealer.open(sealed, true),
    cipher: () => {
      const c = createCipheriv("aes-256-gcm", key, iv);
      c.update(text, "utf8");
      c.final();
      c.getAuthTag();
    },
  };
  for (const fn of Object.values(perCallFn)) for (let i = 0; i < 2_000; i++) fn(); // warm up
  return {
    textBytes: text.length,
    sealedBytes: sealed.length,
    sealUs: perCall(n, perCallFn.seal),
    openUs: perCall(n, perCallFn.open),
    cipherUs: perCall(n, perCallFn.cipher),
    pausedCalls,
    sealAfterPauseUs: await afterPause(pausedCalls, perCallFn.seal),
    openAfterPauseUs: await afterPause(pausedCalls, perCallFn.open),
    cipherAfterPauseUs: await afterPause(pausedCalls, perCallFn.cipher),
  };
}

export async function benchEncryption(backend, quick) {
  // "plain" must be plain: errand falls back to this variable when `encryption` is not given.
  delete process.env.ERRAND_ENCRYPTION_KEYS;
  const n = encryptionCounts(quick);
  const latencies = Object.fromEntries(SETTINGS.map((s) => [s, []]));
  const drains = Object.fromEntries(SETTINGS.map((s) => [s, []]));
  const marker = Object.fromEntries(SETTINGS.map((s) => [s, { enqueue: null, drain: [] }]));
  // Per round, each setting's block p50: how far the difference moves from block to block (the noise).
  const blockP50s = Object.fromEntries(SETTINGS.map((s) => [s, []]));

  const apps = {};
  for (const setting of SETTINGS) {
    apps[setting] = await open(backend, setting, "enqueue");
    for (let i = 0; i < n.warmup; i++) await apps[setting].task.enqueue(ARGS);
  }
  // Each round starts with the other setting, so that neither always follows the same one.
  for (let r = 0; r < n.rounds; r++) {
    for (const setting of SETTINGS.map((_, i) => SETTINGS[(i + r) % SETTINGS.length])) {
      const { task } = apps[setting];
      const out = latencies[setting];
      for (let i = 0; i < n.block; i++) {
        const t0 = process.hrtime.bigint();
        await task.enqueue(ARGS);
        out.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      blockP50s[setting].push(summarize(out.slice(-n.block)).p50);
    }
  }
  // Read while still open, so that SQLite's WAL holds what was last written.
  for (const setting of SETTINGS) marker[setting].enqueue = await markerInDatabase(apps[setting].database);
  for (const { errand } of Object.values(apps)) await errand.close();

  const codec = await timeCodec(n.codec, n.pausedCalls);

  for (let r = 0; r < n.drainRounds; r++) {
    for (const setting of SETTINGS.map((_, i) => SETTINGS[(i + r) % SETTINGS.length])) {
      const { database, errand, task } = await open(backend, setting, `drain-${r}`);
      for (let i = 0; i < n.drainJobs; i += 1000) {
        await task.enqueueMany(Array.from({ length: Math.min(1000, n.drainJobs - i) }, () => ARGS));
      }
      const t0 = performance.now();
      const worker = await errand.work({ concurrency: 10, pollInterval: "10ms" });
      while (worker.stats.succeeded < n.drainJobs) await sleep(2);
      drains[setting].push(n.drainJobs / ((performance.now() - t0) / 1000));
      await worker.stop();
      marker[setting].drain.push(await markerInDatabase(database));
      await errand.close();
    }
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const settings = Object.fromEntries(
    SETTINGS.map((s) => {
      const searched = [marker[s].enqueue, ...marker[s].drain];
      return [
        s,
        {
          enqueueUs: summarize(latencies[s]),
          drainJobsPerSec: median(drains[s]),
          drainRuns: drains[s],
          markerFound: searched.reduce((a, m) => a + m.found, 0),
          bytesSearched: searched.reduce((a, m) => a + m.bytes, 0),
          markerByDatabase: marker[s],
        },
      ];
    }),
  );
  const roundDiffs = blockP50s.sealed.map((x, i) => x - blockP50s.plain[i]);
  const { plain, sealed } = settings;
  return {
    counts: n,
    argsBytes: JSON.stringify(ARGS).length,
    targets: ENCRYPTION_TARGETS,
    settings,
    enqueueP50ExtraUs: sealed.enqueueUs.p50 - plain.enqueueUs.p50,
    enqueueP90ExtraUs: sealed.enqueueUs.p90 - plain.enqueueUs.p90,
    enqueueP50ExtraByRoundUs: roundDiffs,
    drainVsPlain: sealed.drainJobsPerSec / plain.drainJobsPerSec,
    drainRoundRatios: drains.sealed.map((x, i) => x / drains.plain[i]),
    codec,
  };
}

export function reportEncryption(name, r) {
  const t = ENCRYPTION_TARGETS;
  const n = r.counts;
  const yes = (ok) => (ok ? "yes" : "NO");
  const range = (xs, f) => `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;
  const sign = (x) => `${x >= 0 ? "+" : "−"}${num(Math.abs(x), 1)}`;
  printTable(
    `Encryption at rest on ${name}: enqueue µs, ${num(r.argsBytes)} B of args (${num(n.rounds * n.block)} calls per setting, in blocks of ${num(n.block)} alternating); drain jobs/s (${num(n.drainJobs)} jobs, concurrency 10, median of ${n.drainRounds})`,
    ["setting", "enqueue p50", "p90", "p99", "mean", "drain jobs/s", "drain range", "marker found", "MB searched"],
    SETTINGS.map((s) => {
      const e = r.settings[s].enqueueUs;
      return [
        s,
        num(e.p50, 1),
        num(e.p90, 1),
        num(e.p99, 1),
        num(e.mean, 1),
        num(r.settings[s].drainJobsPerSec),
        range(r.settings[s].drainRuns, num),
        num(r.settings[s].markerFound),
        num(r.settings[s].bytesSearched / 1e6, 1),
      ];
    }),
  );
  const { plain, sealed } = r.settings;
  printTable(
    `sealed against plain (${name})`,
    ["measure", "figure", "by round", "target", "met"],
    [
      [
        "enqueue p50 difference, µs",
        sign(r.enqueueP50ExtraUs),
        range(r.enqueueP50ExtraByRoundUs, sign),
        `≤ +${t.enqueueP50ExtraUs}`,
        yes(r.enqueueP50ExtraUs <= t.enqueueP50ExtraUs),
      ],
      ["enqueue p90 difference, µs", sign(r.enqueueP90ExtraUs), "-", "-", "-"],
      [
        "drain, sealed ÷ plain",
        r.drainVsPlain.toFixed(2),
        range(r.drainRoundRatios, (x) => x.toFixed(2)),
        `≥ ${t.drainVsPlain.toFixed(2)}`,
        yes(r.drainVsPlain >= t.drainVsPlain),
      ],
      ["marker found, sealed", num(sealed.markerFound), "-", String(t.markerWhenSealed), yes(sealed.markerFound === 0)],
      ["marker found, plain (the check can fail)", num(plain.markerFound), "-", "> 0", yes(plain.markerFound > 0)],
    ],
  );
  const c = r.codec;
  printTable(
    `The codec alone, ${num(c.textBytes)} B of JSON text (${num(c.sealedBytes)} B sealed), µs per call: in a loop (median of 10 batches of ${num(n.codec / 10)}), and one call after a 1 ms pause (p50 of ${num(c.pausedCalls)})`,
    ["operation", "in a loop", "share of the p50 difference", "after a pause", "share of the p50 difference"],
    [
      ["Sealer.seal", c.sealUs, c.sealAfterPauseUs],
      ["  of which AES-256-GCM alone (no envelope, no base64)", c.cipherUs, c.cipherAfterPauseUs],
      ["Sealer.open (the claim's side)", c.openUs, c.openAfterPauseUs],
    ].map(([what, loop, paused], i) => [
      what,
      num(loop, 2),
      i < 2 ? share(loop, r.enqueueP50ExtraUs) : "-",
      num(paused, 1),
      i < 2 ? share(paused, r.enqueueP50ExtraUs) : "-",
    ]),
  );
}

const share = (part, whole) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : "-");
