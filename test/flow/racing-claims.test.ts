// Claims racing for two keys, on both backends: twenty claims at once from four connections (four opened backends, as
// four worker processes would have), round after round, never take more of a key's jobs than its limit, and a slot
// freed by one is taken by the next. (On PostgreSQL, without the keys' locks it failed two runs in three.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import type { Backend } from "../../src/02-storage/backend.js";
import { bothBackends } from "../helpers/databases.js";

const databases = bothBackends();

for (const [name, database] of databases) {
  describe(`claims racing for a limited key (${name})`, () => {
    it("never take more of a key's jobs than its limit, whatever their number and order", async () => {
      const url = await database();
      const errands = [0, 1, 2, 3].map(() => new Errand({ database: url, logger: silentLogger }));
      const [t] = errands.map((e) =>
        e.task("t", () => {}, { concurrency: { limit: 2, key: (a: { k: string }) => a.k } }),
      );
      const backends: Backend[] = await Promise.all(errands.map((e) => e.backend()));
      await t!.enqueueMany(Array.from({ length: 90 }, (_, i) => ({ k: i % 3 === 0 ? "a" : "b" })));
      const claimOnce = (b: Backend, i: number) =>
        b.claim({
          workerId: `w${i}`,
          queues: null,
          tasks: ["t"],
          limited: ["t"],
          limit: 5,
          now: Date.now(),
          leaseMs: 60_000,
        });
      const tokens = new Map<string, string>();
      for (let round = 0; round < 8; round++) {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => claimOnce(backends[i % 4]!, i)));
        const claimed = results.flatMap((r) => r.jobs);
        for (const c of claimed) tokens.set(c.id, c.token);
        const running = await errands[0]!.listJobs({ state: "running", limit: 100 });
        const byKey = new Map<string, number>();
        for (const j of running) byKey.set(j.concurrencyKey!, (byKey.get(j.concurrencyKey!) ?? 0) + 1);
        assert.deepEqual(Object.fromEntries(byKey), { a: 2, b: 2 }, `round ${round}: two of each key running`);
        assert.equal(claimed.length, round === 0 ? 4 : 2, `round ${round}: only freed slots taken`);
        // One job of each key finishes: its slot is free for the next round.
        const done = running.filter((j, i, all) => all.findIndex((o) => o.concurrencyKey === j.concurrencyKey) === i);
        await backends[0]!.complete(
          done.map((j) => ({ id: j.id, token: tokens.get(j.id)!, kind: "succeeded" as const, result: null })),
          Date.now(),
        );
      }
      for (const e of errands) await e.close();
    });
  });
}
