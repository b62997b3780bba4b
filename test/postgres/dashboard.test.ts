// The dashboard on PostgreSQL: the same pages, actions and metrics as on SQLite (which the browser tests drive).
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Errand, startDashboard, type RunningDashboard } from "errand";
import { waitFor } from "../helpers/cli.js";
import { freshPostgresDatabase, type FreshDatabase } from "../helpers/postgres.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let db: FreshDatabase;
let errand: Errand;
let dashboard: RunningDashboard;
let failedId: string;

before(async () => {
  db = await freshPostgresDatabase();
  errand = new Errand({ database: db.url, logger: quiet, redact: ["token"] });
  const task = errand.task(
    "charge",
    async (args: { fail: boolean; token: string }, ctx) => {
      if (args.fail && ctx.attempt === 1) throw new Error("card declined <b>");
      return "charged";
    },
    { maxAttempts: 1 },
  );
  await task.enqueue({ fail: false, token: "tok_live_123" });
  failedId = (await task.enqueue({ fail: true, token: "tok_live_456" })).id;
  const worker = await errand.work();
  await waitFor("the failing job to fail", async () => (await (await errand.getJob(failedId))!.status()) === "failed");
  await worker.stop();
  dashboard = await startDashboard(errand, { port: 0 });
});
after(async () => {
  await dashboard?.close();
  await errand?.close();
  await db?.drop();
});

it("shows counts, lists and details, retries with the CSRF token, and serves metrics on PostgreSQL", async () => {
  const get = async (path: string) => {
    const response = await fetch(new URL(path, dashboard.url));
    assert.equal(response.status, 200, path);
    return response.text();
  };
  assert.match(await get("/"), /data-count="default:failed">1</);
  assert.match(
    await get(`/jobs?state=failed&q=${encodeURIComponent('"fail": true')}`),
    new RegExp(`href="/jobs/${failedId}"`),
    "search in args, as PostgreSQL prints them",
  );
  // A match only inside a redacted field is not shown: the search would otherwise reveal the hidden value.
  assert.doesNotMatch(await get("/jobs?q=tok_live_456"), new RegExp(`href="/jobs/${failedId}"`));
  assert.doesNotMatch(await get(`/jobs?q=${encodeURIComponent('"token": "tok_')}`), /href="\/jobs\/\d+"/);
  const detail = await get(`/jobs/${failedId}`);
  assert.match(detail, /card declined &#60;b&#62;/);
  assert.match(detail, /&#34;token&#34;: &#34;\[redacted\]&#34;/);
  assert.doesNotMatch(detail, /tok_live_456/);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(detail)![1]!;
  const retry = await fetch(new URL(`/jobs/${failedId}/retry`, dashboard.url), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf }),
  });
  assert.equal(retry.status, 303);
  assert.equal(await (await errand.getJob(failedId))!.status(), "ready");
  assert.match(await get("/metrics"), /^errand_jobs\{queue="default",state="ready"\} 1$/m);
});
