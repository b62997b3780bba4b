// The bulk bench's view of a bulk action's steps: each step's time as the backend reports it (SQLite: its write
// transaction, commit included, which is also how long it held the calling process's event loop; PostgreSQL: its
// round trips), and the jobs per step the action chose.
import { summarize } from "./lib/stats.mjs";

/** Times the steps of `errand`'s bulk actions from now; `done()` stops and summarizes them. */
export async function timeSteps(errand) {
  const backend = await errand.backend();
  const step = backend.bulkStep;
  const ms = [];
  const limits = [];
  backend.bulkStep = async (action, selection, p, now) => {
    const result = await step.call(backend, action, selection, p, now);
    ms.push(result.ms);
    limits.push(p.limit);
    return result;
  };
  return {
    done() {
      backend.bulkStep = step;
      const sorted = [...limits].sort((a, b) => a - b);
      return { ms: summarize(ms), limitP50: sorted[Math.floor(sorted.length / 2)] ?? 0, limitMax: sorted.at(-1) ?? 0 };
    },
  };
}
