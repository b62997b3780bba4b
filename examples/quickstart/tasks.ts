// The tasks of a small app. A web handler would import these and call .enqueue(); `errand worker` runs them.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "errand";

export const errand = new Errand();

export const sendWelcomeEmail = errand.task(
  "send-welcome-email",
  async (args: { to: string }, ctx) => {
    await sleep(300, undefined, { signal: ctx.signal }); // stands in for an SMTP round trip
    ctx.log.info(`welcome email sent to ${args.to}`);
    return { deliveredTo: args.to };
  },
  { queue: "email", maxAttempts: 5, timeout: "30s" },
);

// Fails on its first attempt, to show a retry with backoff.
export const makeThumbnail = errand.task(
  "make-thumbnail",
  async (args: { image: string }, ctx) => {
    if (ctx.attempt === 1) throw new Error(`image service busy for ${args.image}`);
    await ctx.progress(100);
    return { thumbnail: args.image.replace(/\.\w+$/, ".thumb.webp") };
  },
  { maxAttempts: 3, backoff: { base: "500ms" } },
);

// CPU-bound: it computes without yielding, so it runs isolated, in one of the worker's threads, where it holds
// neither the worker's event loop (its leases, outcomes and claims) nor the other jobs; past its timeout the
// thread is stopped for real.
export const digestReport = errand.task(
  "digest-report",
  (args: { rows: number }) => {
    let digest = "";
    for (let i = 0; i < args.rows; i++) digest = createHash("sha256").update(`${digest}row ${i}`).digest("hex");
    return { rows: args.rows, digest: digest.slice(0, 16) };
  },
  { isolate: "thread", timeout: "1m" },
);

export default errand;
