// Workflows across worker processes killed with SIGKILL at random instants, on both backends: 50 chains of 5 and
// 50 chords of 20 with their callback. Every flow completes with its result; each member became exactly one job
// (no continuation lost, none created twice); a callback's handler ran more than once for a flow only when a
// process died while running it.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Errand, type Flow } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { bothBackends } from "../helpers/databases.js";
import { tempDir } from "../helpers/tmp.js";
import { Workers } from "../flow/limits.js";
import { readFileSync, existsSync } from "node:fs";

const TASKS = fileURLToPath(new URL("./fixtures/flow-tasks.ts", import.meta.url));
const FLOWS = 50;
const CHAIN = 5;
const CHORD = 20;

interface Line {
  what: string;
  task: string;
  tag: string;
  id: string;
  pid: number;
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [what, task, tag, id, pid] = l.split(" ");
      return { what: what!, task: task!, tag: tag!, id: id!, pid: Number(pid) };
    });
}

// The two backends at once: each mostly waits for leases to end.
describe("workflows across kill -9", { concurrency: 2 }, () => {
  for (const [name, database] of bothBackends()) {
    describe(`workflows across kill -9 (${name})`, () => {
      it("completes every chain and chord, each member one job, callbacks run once but for a crash", async (t) => {
        const url = await database();
        const dir = tempDir();
        const recordFile = join(dir, "record.log");
        const errand = new Errand({ database: url, logger: silentLogger });
        // The same names and options as the workers' tasks (the enqueuer's options make the jobs); this process only
        // enqueues. Many attempts: a job may be in several of the killed processes.
        const options = { maxAttempts: 20 };
        const link = errand.task("link", (x: { tag: string; trail: number[] }) => x, options);
        const part = errand.task("part", (x: { tag: string; i: number }) => x, options);
        const gather = errand.task("gather", (parts: { tag: string; i: number }[]) => parts.map((p) => p.i), options);
        const chains: Flow<{ tag: string; trail: number[] }>[] = [];
        const chords: Flow<number[]>[] = [];
        for (let f = 0; f < FLOWS; f++) {
          chains.push(await errand.chain(link.with({ tag: `c${f}`, trail: [] }), link, link, link, link).enqueue());
          const parts = Array.from({ length: CHORD }, (_, i) => part.with({ tag: `d${f}`, i }));
          chords.push(await errand.group(parts).then(gather).enqueue());
        }
        const workers = new Workers(
          { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_TEST_RECORD: recordFile },
          2,
          TASKS,
        );
        const killed = new Set<number>();
        try {
          const deadline = Date.now() + 120_000;
          for (;;) {
            const states = await Promise.all([...chains, ...chords].map(async (f) => (await f.status()).state));
            if (states.every((s) => s !== "running")) break;
            assert.ok(Date.now() < deadline, `flows still running after 120 s; worker stderr: ${workers.stderr}`);
            // A kill every 150-450 ms, of a process with a handler running, or of any.
            await sleep(150 + Math.random() * 300);
            const live = workers.children.filter((c) => c.exitCode === null && c.signalCode === null);
            const victim = live[Math.floor(Math.random() * live.length)];
            if (victim && killed.size < 40) {
              const exited = new Promise((r) => victim.once("exit", r));
              victim.kill("SIGKILL");
              await exited;
              killed.add(victim.pid!);
              workers.start();
            }
          }
        } finally {
          await workers.stop();
        }
        t.diagnostic(`${killed.size} worker processes killed with SIGKILL`);
        const attempts = (await errand.listJobs({ limit: 10_000 })).map((j) => j.attempt);
        t.diagnostic(
          `most attempts of one job: ${Math.max(...attempts)}; jobs run more than once: ${attempts.filter((a) => a > 1).length}`,
        );
        assert.ok(killed.size >= 5, `enough kills to mean something: ${killed.size}`);

        for (const [f, chain] of chains.entries()) {
          assert.deepEqual(await chain.result(), { tag: `c${f}`, trail: [0, 1, 2, 3, 4] }, `chain ${f}`);
        }
        for (const chord of chords) {
          assert.deepEqual(
            await chord.result(),
            Array.from({ length: CHORD }, (_, i) => i),
          );
        }
        // Exactly one job per member: every member has its job, and the jobs stored are just those.
        const memberJobs = new Set<string>();
        for (const flow of [...chains, ...chords]) {
          for (const m of (await flow.status()).members) {
            assert.ok(m.jobId !== null, `flow ${flow.id} member ${m.pos} has a job`);
            memberJobs.add(m.jobId);
          }
        }
        const stored = await errand.listJobs({ limit: 10_000 });
        assert.equal(stored.length, FLOWS * (CHAIN + CHORD + 1), "no job created twice, none lost");
        assert.equal(memberJobs.size, stored.length);
        assert.ok(stored.every((j) => memberJobs.has(j.id)));

        // A callback's handler started more than once for a flow only as often as a process died while it ran.
        const lines = readLines(recordFile).filter((l) => l.task === "gather");
        for (let f = 0; f < FLOWS; f++) {
          const mine = lines.filter((l) => l.tag === `d${f}`);
          const ends = new Set(mine.filter((l) => l.what === "end").map((l) => `${l.id} ${l.pid}`));
          const starts = mine.filter((l) => l.what === "start");
          const cutShort = starts.filter((l) => !ends.has(`${l.id} ${l.pid}`));
          assert.ok(
            cutShort.every((l) => killed.has(l.pid)),
            `flow d${f}: a start without end in a live process`,
          );
          assert.equal(new Set(starts.map((l) => l.id)).size, 1, `flow d${f}: one callback job`);
          // Every run but one was in a process killed later: a re-run comes only from a crash.
          assert.ok(starts.filter((l) => !killed.has(l.pid)).length <= 1, `flow d${f}: ${starts.length} runs`);
        }
        await errand.close();
      });
    });
  }
});
