// errand/http: the dashboard, JSON API and watch streams as a fetch handler, mounted in Hono (web-standard: the
// Request itself, the client's address from getConnInfo), in plain node:http and in Express through nodeListener();
// and called directly, as Next.js or Bun would, where an open handler must be told the client's address.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import express from "express";
import { Hono } from "hono";
import { Errand } from "errand";
import { createHandler, nodeListener } from "errand/http";
import { tempDir } from "../helpers/tmp.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({
  database: `sqlite:${join(tempDir("errand-http-"), "jobs.db")}`,
  logger: quiet,
  watchSecret: "a-watch-secret-of-at-least-32-characters",
});
const task = errand.task("mounted", async () => "ok", { maxAttempts: 1 });
after(async () => {
  await errand.close();
});

/** Reads a watch stream to its end; returns its event names. */
async function events(res: Response): Promise<string[]> {
  const text = await res.text();
  return [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]!);
}

describe("errand/http's createHandler()", () => {
  it("in Hono: the app's own check(request) guards pages and API, a Bearer API call enqueues, a watch stream runs", async () => {
    const handler = createHandler(errand, {
      basePath: "/admin/jobs",
      auth: { token: "api-token-for-programs", check: (request) => request.headers.get("x-admin") === "yes" },
    });
    const app = new Hono();
    app.get("/", (c) => c.text("the user's own home page"));
    app.all("/admin/jobs/*", (c) => handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((resolve) => server.once("listening", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const worker = await errand.work();
    try {
      assert.equal((await fetch(`${base}/admin/jobs/`)).status, 401, "the check refuses");
      const page = await fetch(`${base}/admin/jobs/`, { headers: { "x-admin": "yes" } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /href="\/admin\/jobs\/static\/dashboard\.css"/);
      const created = await fetch(`${base}/admin/jobs/api/jobs`, {
        method: "POST",
        headers: { authorization: "Bearer api-token-for-programs", "content-type": "application/json" },
        body: JSON.stringify({ task: "mounted", args: { n: 1 } }),
      });
      assert.equal(created.status, 201);
      const { id } = (await created.json()) as { id: string };
      const job = (await errand.getJob(id))!;
      // The stream needs its token only, not the dashboard's auth.
      const stream = await fetch(`${base}/admin/jobs/watch/jobs/${id}?token=${job.watchToken()}`);
      assert.equal(stream.status, 200);
      assert.equal((await events(stream)).at(-1), "succeeded");
      assert.equal(await (await fetch(`${base}/`)).text(), "the user's own home page");
    } finally {
      await worker.stop();
      await new Promise((r) => server.close(r));
    }
  });

  it("through nodeListener(): plain node:http open on loopback, and Express under a mount path", async () => {
    const open = nodeListener(createHandler(errand));
    const plain = createServer((req, res) => void open(req, res));
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    const guarded = nodeListener(
      createHandler(errand, { basePath: "/errand", auth: { username: "ops", password: "pw" } }),
    );
    const app = express();
    app.use(express.json());
    app.use("/errand", (req, res) => void guarded(req, res));
    const viaExpress = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => viaExpress.once("listening", resolve));
    try {
      const job = await task.enqueue({ n: 2 }, { delay: "1h" });
      const plainBase = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      const detail = await fetch(`${plainBase}/jobs/${job.id}`);
      assert.equal(detail.status, 200);
      assert.match(await detail.text(), /id="state">scheduled</);
      // A page's action with its CSRF token, through the bridge's streamed body.
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await fetch(`${plainBase}/jobs/${job.id}`)).text())![1]!;
      const ran = await fetch(`${plainBase}/jobs/${job.id}/run-now`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrf }).toString(),
      });
      assert.equal(ran.status, 303);
      assert.equal(await job.status(), "ready");
      const expressBase = `http://127.0.0.1:${(viaExpress.address() as AddressInfo).port}/errand`;
      assert.equal((await fetch(`${expressBase}/`)).status, 401);
      const basic = { authorization: `Basic ${Buffer.from("ops:pw").toString("base64")}` };
      assert.equal((await fetch(`${expressBase}/`, { headers: basic })).status, 200);
      // express.json() read the body first: the bridge hands the parsed one on.
      const created = await fetch(`${expressBase}/api/jobs`, {
        method: "POST",
        headers: { ...basic, "content-type": "application/json", "sec-fetch-site": "same-origin" },
        body: JSON.stringify({ task: "mounted", args: { n: 3 }, options: { delay: "1h" } }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      assert.deepEqual(((await created.json()) as { args: unknown }).args, { n: 3 });
    } finally {
      await new Promise((r) => plain.close(r));
      await new Promise((r) => viaExpress.close(r));
    }
  });

  it("logs a request that failed with its database password hidden", async () => {
    const handler = createHandler(errand, {
      auth: {
        check: () => {
          throw new Error("could not reach postgres://app:hunter2-secret@db.internal:5432/app");
        },
      },
    });
    const logged: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
    try {
      const res = await handler(new Request("http://localhost/"), { remoteAddress: "127.0.0.1" });
      assert.equal(res.status, 500);
      assert.doesNotMatch(await res.text(), /hunter2/);
    } finally {
      console.error = original;
    }
    assert.match(logged.join("\n"), /could not reach postgres:\/\/app:\*\*\*@db\.internal/);
    assert.doesNotMatch(logged.join("\n"), /hunter2/);
  });

  it("called directly, as Next.js or Bun would: open only to a client the server says is on this machine", async () => {
    const handler = createHandler(errand);
    const request = () => new Request("http://localhost:3000/", { headers: { host: "localhost:3000" } });
    const unknown = await handler(request());
    assert.equal(unknown.status, 403);
    assert.match(await unknown.text(), /did not say where the request came from.*pass \{ remoteAddress \}/);
    assert.equal((await handler(request(), { remoteAddress: "10.1.2.3" })).status, 403);
    const local = await handler(request(), { remoteAddress: "127.0.0.1" });
    assert.equal(local.status, 200);
    assert.match(await local.text(), /<title>/);
  });
});
