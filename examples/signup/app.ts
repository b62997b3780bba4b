// The web app: a signup form with a blocking route and an errand route, the received emails, and thumbnails.
import express, { type NextFunction, type Request, type Response } from "express";
import { createHandler, nodeListener } from "errand/http";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { config } from "./config.js";
import { sendWelcomeEmail } from "./mail.js";
import type { MailServer } from "./smtp.js";
import { errand, makeThumbnail, thumbnailsDir, uploadsDir, welcomeEmail } from "./tasks.js";
import { traced } from "./tracing.js";
import { validateSignup, type User, type Users } from "./users.js";
import { emailsPage, esc, imagesPage, layout, signupPage, welcomePage } from "./views.js";

/** Two signups with one address at the same moment: the second meets the UNIQUE constraint. */
const isDuplicate = (error: unknown) => (error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE";

/** Largest signup form body accepted. */
const FORM_LIMIT_BYTES = 10 * 1024;

const IMAGE_FORMATS = new Set(["jpeg", "png", "webp", "gif", "avif", "tiff"]);

/** errand/browser, served to the pages as /static/errand-browser.js. */
const BROWSER_CLIENT = fileURLToPath(import.meta.resolve("errand/browser"));

/** The page's stream of one job: errand's handler serves it under /errand, the token lets this page in only. */
const watchUrl = (job: { id: string; watchToken(): string }) =>
  `/errand/watch/jobs/${job.id}?token=${job.watchToken()}`;

/** Handler times per route, for the evidence bench (GET /stats, DELETE /stats). */
export type HandlerTimes = Record<"blocking" | "errand", number[]>;

export function createApp(users: Users, mail: MailServer) {
  const app = express();
  app.disable("x-powered-by");
  const times: HandlerTimes = { blocking: [], errand: [] };

  // errand.status() counts jobs; a second is fresh enough for a banner.
  let banner: { text: string | null; at: number } = { text: null, at: 0 };
  async function warning(): Promise<string | null> {
    if (Date.now() - banner.at > 1000) {
      const { warnings } = await errand.status();
      banner = { text: warnings[0] ?? null, at: Date.now() };
    }
    return banner.text;
  }

  const finish = (res: Response, route: keyof HandlerTimes, started: number, status: number, html: string) => {
    const ms = performance.now() - started;
    times[route].push(ms);
    res
      .status(status)
      .set("Server-Timing", `handler;dur=${ms.toFixed(2)}`)
      .type("html")
      .send(html.replace("%HANDLER_MS%", ms.toFixed(1)));
  };

  app.get("/", async (_req, res) => {
    res.type("html").send(signupPage({ name: "", email: "" }, null, await warning()));
  });

  // A name and an email address: a signup form is a few hundred bytes, whatever the upload limit.
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT_BYTES });

  app.post("/signup/errand", form, (req, res) =>
    traced("POST /signup/errand", async () => {
      const started = performance.now();
      const input = validateSignup(req.body);
      if (!input.ok) return finish(res, "errand", started, 400, signupPage(input, input.error, null));
      if (users.exists(input.email))
        return finish(res, "errand", started, 400, signupPage(input, `${input.email} has already signed up.`, null));
      // The user and the job commit together, or neither does.
      let user: User;
      let job: ReturnType<typeof welcomeEmail.enqueueSync>;
      try {
        [user, job] = users.db.transaction(() => {
          const user = users.insert(input.name, input.email, "errand");
          const job = welcomeEmail.enqueueSync(
            { userId: user.id, name: user.name, email: user.email },
            { tx: users.db },
          );
          return [user, job] as const;
        })();
      } catch (error) {
        if (!isDuplicate(error)) throw error;
        return finish(res, "errand", started, 400, signupPage(input, `${input.email} has already signed up.`, null));
      }
      finish(
        res,
        "errand",
        started,
        200,
        welcomePage("errand", user, `the welcome email is job ${job.id}, sent by a worker in a moment.`, watchUrl(job)),
      );
    }),
  );

  app.post("/signup/blocking", form, async (req, res) => {
    const started = performance.now();
    const input = validateSignup(req.body);
    if (!input.ok) return finish(res, "blocking", started, 400, signupPage(input, input.error, null));
    if (users.exists(input.email))
      return finish(res, "blocking", started, 400, signupPage(input, `${input.email} has already signed up.`, null));
    let user: User;
    try {
      user = users.insert(input.name, input.email, "blocking");
    } catch (error) {
      if (!isDuplicate(error)) throw error;
      return finish(res, "blocking", started, 400, signupPage(input, `${input.email} has already signed up.`, null));
    }
    try {
      await sendWelcomeEmail({ userId: user.id, name: user.name, email: user.email });
    } catch (error) {
      // The blocking way's other weakness: the user exists, the email is lost unless someone retries by hand.
      const page = layout(
        "Signed up, email not sent",
        `<h1>Signed up, but the welcome email failed</h1><p class="error">${esc((error as Error).message)}</p>`,
      );
      return finish(res, "blocking", started, 502, page);
    }
    finish(
      res,
      "blocking",
      started,
      200,
      welcomePage("blocking", user, "the welcome email was sent before this page was."),
    );
  });

  app.get("/emails", async (_req, res) => {
    res.type("html").send(emailsPage(mail.received, await warning()));
  });

  app.get("/emails.json", (_req, res) => res.json(mail.received));

  app.get("/images", async (_req, res) => {
    res.type("html").send(imagesPage(await warning()));
  });

  app.post("/images", express.raw({ type: () => true, limit: config.maxUploadBytes }), async (req, res) => {
    const body = req.body as unknown;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      return res
        .status(400)
        .json({ error: "Send the picture as the request body (Content-Type image/png, image/jpeg, …)." });
    }
    let format: string | undefined;
    try {
      format = (await sharp(body).metadata()).format;
    } catch {
      format = undefined;
    }
    if (!format || !IMAGE_FORMATS.has(format)) {
      return res.status(400).json({
        error: `That is not a picture errand's demo can read (${[...IMAGE_FORMATS].join(", ")}). Nothing was queued.`,
      });
    }
    const upload = `${randomUUID()}.${format}`;
    writeFileSync(join(uploadsDir, upload), body);
    const job = await makeThumbnail.enqueue({ upload });
    res.status(202).json({ jobId: job.id, watch: watchUrl(job) });
  });

  app.get("/images/:id", async (req, res) => {
    const job = /^\d+$/.test(req.params.id) ? await errand.getJob(req.params.id) : null;
    const record = job && (await job.get());
    if (!record || record.task !== makeThumbnail.name)
      return res.status(404).json({ error: `No thumbnail job ${req.params.id}.` });
    // Once it succeeded, job.result() answers at once with what the handler returned.
    const result = record.state === "succeeded" ? await job.result() : null;
    res.json({ id: record.id, state: record.state, progress: record.progress, result });
  });

  // errand's dashboard (this machine only: no auth given) and the pages' watch streams.
  app.use("/errand", nodeListener(createHandler(errand, { basePath: "/errand" })));
  app.get("/static/errand-browser.js", (_req, res) => res.type("text/javascript").sendFile(BROWSER_CLIENT));
  app.use("/thumbnails", express.static(thumbnailsDir, { dotfiles: "deny", index: false }));
  app.use("/static", express.static(fileURLToPath(new URL("./static", import.meta.url)), { index: false }));

  app.get("/stats", (_req, res) => res.json(times));
  app.delete("/stats", (_req, res) => {
    times.blocking.length = 0;
    times.errand.length = 0;
    res.status(204).end();
  });

  app.use((error: Error & { type?: string; status?: number }, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error.type === "entity.too.large" && req.path.startsWith("/signup/")) {
      const page = signupPage(
        { name: "", email: "" },
        `The form sent is larger than ${FORM_LIMIT_BYTES / 1024} KB; a name and an email address take far less. Nobody was signed up.`,
        null,
      );
      return res.status(413).type("html").send(page);
    }
    if (error.type === "entity.too.large") {
      return res.status(400).json({
        error: `That file is larger than ${Math.round(config.maxUploadBytes / 1024 / 1024)} MiB. Nothing was queued.`,
      });
    }
    console.error(`${req.method} ${req.path}: ${error.stack ?? error.message}`);
    res
      .status(error.status ?? 500)
      .type("text")
      .send(error.status ? error.message : "Something went wrong; see the server log.");
  });

  return app;
}
