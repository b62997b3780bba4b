// The tasks of a small app. A web handler would import these and call .enqueue(); `errand worker` runs them.
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

export default errand;
