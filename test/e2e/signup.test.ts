// The signup demo as a user runs it: a real SMTP server, a real worker process, real HTTP requests.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { runCli, waitFor } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const dataDir = tempDir("errand-signup-");
Object.assign(process.env, {
  SIGNUP_DATA_DIR: dataDir,
  SIGNUP_PORT: "0",
  SIGNUP_SMTP_PORT: "0",
  SIGNUP_SMTP_DELAY_MS: "1000",
  SIGNUP_EMAIL_ATTEMPTS: "2",
  SIGNUP_EMAIL_BACKOFF: "100ms",
  SIGNUP_MAX_UPLOAD_BYTES: String(256 * 1024),
});
const { startDemo } = await import("../../examples/signup/demo.js");
const { errand } = await import("../../examples/signup/tasks.js");
type Demo = Awaited<ReturnType<typeof startDemo>>;
const env = { ...process.env, ERRAND_DATABASE_URL: `sqlite:${dataDir}/signup.db` };

let demo: Demo;
before(async () => {
  demo = await startDemo();
});
after(async () => {
  await demo?.stop();
});

async function signUp(route: "errand" | "blocking", name: string, email: string) {
  const t0 = performance.now();
  const response = await fetch(`${demo.url}/signup/${route}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ name, email }),
  });
  const html = await response.text();
  return { status: response.status, html, ms: performance.now() - t0, timing: response.headers.get("server-timing") };
}

const userId = (email: string) =>
  (demo.users.db.prepare("SELECT id FROM users WHERE email = ?").get(email) as { id: number } | undefined)?.id;
const jobCount = async () => (await errand.listJobs({ limit: 1000 })).length;

describe("signup demo", () => {
  it("the errand route answers before the mail server accepts; the blocking route cannot; both emails arrive", async () => {
    const quick = await signUp("errand", "Ada", "ada@example.com");
    assert.equal(quick.status, 200, quick.html);
    assert.match(quick.html, /the <b>errand<\/b> way/);
    assert.match(quick.timing ?? "", /^handler;dur=[\d.]+$/);
    const slow = await signUp("blocking", "Bob", "bob@example.com");
    assert.equal(slow.status, 200, slow.html);
    assert.ok(quick.ms < 500, `errand route took ${quick.ms} ms`);
    assert.ok(slow.ms >= 1000, `blocking route took ${slow.ms} ms, under the SMTP server's 1000 ms`);
    const mail = await demo.mail.waitFor(userId("ada@example.com")!, 10_000);
    assert.match(mail.to, /ada@example\.com/);
    assert.ok(demo.mail.received.some((m) => m.userId === userId("bob@example.com")));
    const page = await (await fetch(`${demo.url}/emails`)).text();
    assert.match(page, /ada@example\.com/);
  });

  it("refuses bad input with the form shown again, storing and enqueuing nothing", async () => {
    const jobsBefore = await jobCount();
    for (const route of ["errand", "blocking"] as const) {
      const noName = await signUp(route, "", "x@example.com");
      assert.equal(noName.status, 400);
      assert.match(noName.html, /Please enter your name/);
      const badEmail = await signUp(route, "Eve <script>", "not-an-email");
      assert.equal(badEmail.status, 400);
      assert.match(badEmail.html, /is not an email address/);
      assert.match(badEmail.html, /value="Eve &#60;script&#62;"/, "the name is kept, escaped");
    }
    const again = await signUp("errand", "Ada", "ada@example.com");
    assert.equal(again.status, 400);
    assert.match(again.html, /already signed up/);
    assert.equal(await jobCount(), jobsBefore);
    assert.equal(userId("x@example.com"), undefined);
  });

  it("when the mail server refuses, the request stays fast, the job fails with the SMTP error, and a retry delivers", async () => {
    demo.mail.rejecting = true;
    const signup = await signUp("errand", "Cy", "cy@example.com");
    assert.equal(signup.status, 200);
    assert.ok(signup.ms < 500, `errand route took ${signup.ms} ms`);
    const id = /job (\d+)/.exec(signup.html)![1]!;
    const job = (await errand.getJob(id))!;
    await waitFor("the job to fail after its 2 attempts", async () => (await job.status()) === "failed", 20_000);
    const shown = await runCli(["show", id], env);
    assert.match(shown.stdout, /451/, shown.stdout);
    assert.match(shown.stdout, /temporarily unavailable/);
    demo.mail.rejecting = false;
    const retried = await runCli(["retry", id], env);
    assert.equal(retried.code, 0, retried.stderr);
    const mail = await demo.mail.waitFor(userId("cy@example.com")!, 10_000);
    assert.match(mail.subject, /Welcome, Cy/);
    await waitFor("the job to be stored as succeeded", async () => (await job.status()) === "succeeded");
  });

  it("makes thumbnails in the worker with progress, and refuses non-images and oversized files", async () => {
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#3a7" } })
      .png()
      .toBuffer();
    const upload = await fetch(`${demo.url}/images`, {
      method: "POST",
      headers: { "content-type": "image/png" },
      body: png,
    });
    assert.equal(upload.status, 202);
    const { jobId } = (await upload.json()) as { jobId: string };
    const done = await waitFor(
      "the thumbnail",
      async () => {
        const job = (await (await fetch(`${demo.url}/images/${jobId}`)).json()) as {
          state: string;
          progress: { percent: number };
          result: { thumbnail: string };
        };
        return job.state === "succeeded" ? job : null;
      },
      20_000,
    );
    assert.equal(done.progress.percent, 100);
    const thumb = await fetch(`${demo.url}/thumbnails/${done.result.thumbnail}`);
    assert.equal(thumb.status, 200);
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    assert.equal(meta.format, "webp");
    assert.equal(meta.width, 480);

    const jobsBefore = await jobCount();
    const text = await fetch(`${demo.url}/images`, {
      method: "POST",
      headers: { "content-type": "image/png" },
      body: "not a picture",
    });
    assert.equal(text.status, 400);
    assert.match(((await text.json()) as { error: string }).error, /not a picture/);
    const big = await fetch(`${demo.url}/images`, {
      method: "POST",
      headers: { "content-type": "image/png" },
      body: Buffer.alloc(300 * 1024),
    });
    assert.equal(big.status, 400);
    assert.match(((await big.json()) as { error: string }).error, /larger than/);
    assert.equal(await jobCount(), jobsBefore);
  });

  it("with no worker running, requests stay fast, jobs wait, and the app and errand status say so", async () => {
    await demo.stopWorker();
    const signup = await signUp("errand", "Dee", "dee@example.com");
    assert.equal(signup.status, 200);
    assert.ok(signup.ms < 500, `errand route took ${signup.ms} ms`);
    const status = await runCli(["status"], env);
    assert.equal(status.code, 3, status.stdout);
    assert.match(status.stdout, /No worker is running/);
    await new Promise((r) => setTimeout(r, 1100)); // the app's banner is refreshed every second
    assert.match(await (await fetch(`${demo.url}/`)).text(), /class="banner"[^>]*>No worker is running/);
    await demo.startWorker();
    await demo.mail.waitFor(userId("dee@example.com")!, 10_000);
  });
});
