// The demo's background work. The web app imports these to enqueue; `errand worker examples/signup/tasks.ts` runs them.
import "./tracing.js"; // first: OpenTelemetry, when ERRAND_TRACE=console
import { Errand } from "errand";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { config, databaseFile } from "./config.js";
import { sendWelcomeEmail as send, type Welcome } from "./mail.js";

mkdirSync(config.dataDir, { recursive: true });
export const uploadsDir = join(config.dataDir, "uploads");
export const thumbnailsDir = join(config.dataDir, "thumbnails");
mkdirSync(uploadsDir, { recursive: true });
mkdirSync(thumbnailsDir, { recursive: true });

// The users table lives in this file too, so that a signup and its email job commit together: shared on purpose.
// The watch secret signs the tokens that let the pages follow their jobs; an app keeps one in its environment
// (ERRAND_WATCH_SECRET), the demo makes one per process when none is set (only the web app signs and checks them).
export const errand = new Errand({
  database: `sqlite:${databaseFile()}`,
  sqlite: { shareFile: true },
  watchSecret: process.env.ERRAND_WATCH_SECRET || randomBytes(32).toString("base64url"),
});

export const welcomeEmail = errand.task(
  "send-welcome-email",
  async (args: Welcome, ctx) => {
    const messageId = await send(args);
    ctx.log.info(`welcome email to ${args.email} accepted by the SMTP server`);
    return { messageId };
  },
  { queue: "email", maxAttempts: config.emailAttempts, backoff: { base: config.emailBackoff }, timeout: "30s" },
);

/** Three sizes, each a step of progress the page shows; the largest is the thumbnail the page displays. */
const SIZES = [480, 240, 96] as const;

export const makeThumbnail = errand.task(
  "make-thumbnail",
  async (args: { upload: string }, ctx) => {
    const source = join(uploadsDir, args.upload);
    const base = args.upload.replace(/\.[^.]+$/, "");
    const made: { width: number; file: string }[] = [];
    for (const [i, width] of SIZES.entries()) {
      const file = `${base}-${width}.webp`;
      await sharp(source)
        .rotate()
        .resize({ width, withoutEnlargement: true })
        .webp({ quality: 80 })
        .toFile(join(thumbnailsDir, file));
      made.push({ width, file });
      await ctx.progress({ percent: Math.round(((i + 1) / SIZES.length) * 100), step: `${width}px done` });
    }
    return { thumbnail: made[0]!.file, sizes: made };
  },
  { queue: "images", maxAttempts: 3, timeout: "1m" },
);

export default errand;
