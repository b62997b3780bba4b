// A worker claims no more than it can start soon: at concurrency 1 with slow jobs it holds nothing in reserve, so a
// second worker takes the next job at once instead of idling while the first one sits on it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "../../src/index.js";
import { tempDir } from "../helpers/tmp.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errands: Errand[] = [];
after(async () => {
  for (const e of errands) await e.close();
});

describe("claim sizing", () => {
  it("at concurrency 1 with slow jobs, a worker buffers nothing: an idle worker takes the next job at once", async () => {
    const database = `sqlite:${join(tempDir(), "buffer.db")}`;
    const starts = new Map<string, { at: number; by: string }>();
    const make = (name: string) => {
      const errand = new Errand({ database, logger: quiet });
      errands.push(errand);
      const slow = errand.task("slow", async (_args: { n: number }, ctx) => {
        starts.set(ctx.id, { at: Date.now(), by: name });
        await sleep(1500);
      });
      return { errand, slow };
    };
    const a = make("a");
    const b = make("b");
    const jobs = await a.slow.enqueueMany([{ n: 1 }, { n: 2 }]);
    const wa = await a.errand.work({ concurrency: 1, pollInterval: "100ms" });
    while (starts.size === 0) await sleep(10);
    await sleep(200);
    const heldByA = (await a.errand.listJobs({ state: "running", limit: 10 })).length;
    const bStarted = Date.now();
    const wb = await b.errand.work({ concurrency: 1, pollInterval: "100ms" });
    while (starts.size < 2) await sleep(10);
    const second = [...starts.values()][1]!;
    const waited = second.at - bStarted;
    console.log(
      `claim buffer: worker a held ${heldByA} job(s) while running one; the idle worker b started the next one after ${waited} ms (by ${second.by})`,
    );
    assert.equal(heldByA, 1, "worker a holds only the job it runs");
    assert.equal(second.by, "b");
    assert.ok(waited < 1000, `the second job waited ${waited} ms for a busy worker while another was idle`);
    for (const job of jobs) assert.equal(await job.result({ timeout: "10s" }), null);
    await Promise.all([wa.stop(), wb.stop()]);
  });
});
