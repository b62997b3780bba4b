// The signup demo with its mail server down (nothing listening on its port): the errand route still answers at
// once, the welcome-email job retries with backoff and ends failed with the connection error in `errand show`, and
// once a mail server listens again, `errand retry` delivers the email.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { runCli, waitFor } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const dataDir = tempDir("errand-signup-down-");
Object.assign(process.env, {
  SIGNUP_DATA_DIR: dataDir,
  SIGNUP_PORT: "0",
  SIGNUP_SMTP_PORT: "0",
  SIGNUP_SMTP_DELAY_MS: "50",
  SIGNUP_EMAIL_ATTEMPTS: "3",
  SIGNUP_EMAIL_BACKOFF: "100ms",
});
const { startDemo } = await import("../../examples/signup/demo.js");
const { startMailServer } = await import("../../examples/signup/smtp.js");
const { errand } = await import("../../examples/signup/tasks.js");
type Demo = Awaited<ReturnType<typeof startDemo>>;
type MailServer = Awaited<ReturnType<typeof startMailServer>>;
const env = { ...process.env, ERRAND_DATABASE_URL: `sqlite:${dataDir}/signup.db` };

let demo: Demo;
let backUp: MailServer | undefined;
before(async () => {
  demo = await startDemo();
});
after(async () => {
  // The worker first: its pooled SMTP connection would keep the server closing for 30 s.
  await demo?.stopWorker();
  await backUp?.close();
  await demo?.stop();
});

it("with the SMTP server down, the errand route stays fast, the job fails with the connection error, and a retry delivers", async () => {
  const port = demo.mail.port;
  await demo.mail.close(); // no mail was sent yet, so no pooled connection keeps it open
  const t0 = performance.now();
  const response = await fetch(`${demo.url}/signup/errand`, {
    method: "POST",
    body: new URLSearchParams({ name: "Di", email: "di@example.com" }),
  });
  const html = await response.text();
  const ms = performance.now() - t0;
  assert.equal(response.status, 200, html);
  assert.ok(ms < 500, `errand route took ${ms} ms`);
  const id = /job (\d+)/.exec(html)![1]!;
  const job = (await errand.getJob(id))!;
  await waitFor("the job to fail after its 3 attempts", async () => (await job.status()) === "failed", 20_000);
  const shown = await runCli(["show", id], env);
  assert.match(shown.stdout, /ECONNREFUSED/, shown.stdout);
  assert.match(shown.stdout, /attempt/i);

  backUp = await startMailServer({ port, delayMs: 50, logFile: join(dataDir, "received-mail-2.jsonl") });
  const retried = await runCli(["retry", id], env);
  assert.equal(retried.code, 0, retried.stderr);
  const user = demo.users.db.prepare("SELECT id FROM users WHERE email = ?").get("di@example.com") as { id: number };
  const mail = await backUp.waitFor(user.id, 10_000);
  assert.match(mail.subject, /Welcome, Di/);
  await waitFor("the job to be stored as succeeded", async () => (await job.status()) === "succeeded");
});
