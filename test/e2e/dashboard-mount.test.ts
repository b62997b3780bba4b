// The dashboard handler mounted in users' own servers, under a path of their choosing: Express, Fastify, Hono.
import assert from "node:assert/strict";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket, type AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { serve, type HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { createDashboard, Errand } from "errand";
import { tempDir } from "../helpers/tmp.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database: `sqlite:${join(tempDir("errand-mount-"), "jobs.db")}`, logger: quiet });
const task = errand.task("mounted", async () => "ok", { maxAttempts: 1 });
const isAdmin = (req: IncomingMessage) => req.headers["x-admin"] === "yes";
const dashboard = createDashboard(errand, { basePath: "/admin/jobs", auth: { check: isAdmin } });
let jobId: string;

before(async () => {
  jobId = (await task.enqueue({ n: 1 }, { delay: "1h" })).id;
});
after(async () => {
  await errand.close();
});

const servers: { name: string; start(): Promise<{ base: string; close: () => Promise<void> }> }[] = [
  {
    name: "Express, with a body parser of its own in front",
    async start() {
      const app = express();
      app.use(express.urlencoded({ extended: false }));
      app.get("/", (_req, res) => res.send("the user's own home page"));
      app.use("/admin/jobs", dashboard);
      const server = app.listen(0, "127.0.0.1");
      await new Promise((resolve) => server.once("listening", resolve));
      return {
        base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((r) => server.close(() => r())),
      };
    },
  },
  {
    name: "Fastify",
    async start() {
      const app = Fastify();
      app.get("/", async () => "the user's own home page");
      // Fastify refuses a form body it has no parser for: let the dashboard read it itself.
      app.addContentTypeParser("application/x-www-form-urlencoded", (_req, _payload, done) => done(null));
      app.all("/admin/jobs", (req, reply) => (reply.hijack(), void dashboard(req.raw, reply.raw)));
      app.all("/admin/jobs/*", (req, reply) => (reply.hijack(), void dashboard(req.raw, reply.raw)));
      await app.listen({ port: 0, host: "127.0.0.1" });
      return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
    },
  },
  {
    name: "Hono on @hono/node-server",
    async start() {
      const app = new Hono<{ Bindings: HttpBindings }>();
      app.get("/", (c) => c.text("the user's own home page"));
      const mount = (c: { env: HttpBindings }) => {
        void dashboard(c.env.incoming, c.env.outgoing);
        return RESPONSE_ALREADY_SENT;
      };
      app.all("/admin/jobs", mount);
      app.all("/admin/jobs/*", mount);
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
      await new Promise((resolve) => server.once("listening", resolve));
      return {
        base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((r) => server.close(() => r())),
      };
    },
  },
];

describe("the dashboard mounted in a server of the user's", () => {
  for (const kind of servers) {
    it(`${kind.name}: pages under the mount path, the app's own check, a CSRF-checked action, the rest of the app untouched`, async () => {
      const { base, close } = await kind.start();
      try {
        const admin = { headers: { "x-admin": "yes" } };
        assert.equal((await fetch(`${base}/admin/jobs/`)).status, 401, "the check refuses");
        const overview = await fetch(`${base}/admin/jobs/`, admin);
        assert.equal(overview.status, 200);
        const page = await overview.text();
        assert.match(page, /href="\/admin\/jobs\/static\/dashboard\.css"/, "links carry the mount path");
        const detail = await (await fetch(`${base}/admin/jobs/jobs/${jobId}`, admin)).text();
        assert.match(detail, /id="state">scheduled</);
        const csrf = /name="_csrf" value="([^"]+)"/.exec(detail)![1]!;
        const refused = await fetch(`${base}/admin/jobs/jobs/${jobId}/run-now`, {
          method: "POST",
          headers: { ...admin.headers, "content-type": "application/x-www-form-urlencoded" },
          body: "",
        });
        assert.equal(refused.status, 403);
        const ran = await fetch(`${base}/admin/jobs/jobs/${jobId}/run-now`, {
          method: "POST",
          redirect: "manual",
          headers: { ...admin.headers, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ _csrf: csrf }).toString(),
        });
        assert.equal(ran.status, 303);
        assert.equal(ran.headers.get("location"), `/admin/jobs/jobs/${jobId}`);
        assert.equal(await (await errand.getJob(jobId))!.status(), "ready");
        assert.equal(
          (await fetch(`${base}/admin/jobs/static/dashboard.js`, admin)).headers.get("content-type"),
          "text/javascript; charset=utf-8",
        );
        assert.equal(await (await fetch(`${base}/`)).text(), "the user's own home page");
      } finally {
        await close();
        // Back to scheduled for the next server's test.
        await errand.cancel(jobId);
        await errand.deleteJob(jobId);
        jobId = (await task.enqueue({ n: 1 }, { delay: "1h" })).id;
      }
    });
  }

  it("without auth serves only clients on this machine; secrets that protect nothing are refused", async () => {
    const request = async (
      handler: ReturnType<typeof createDashboard>,
      remoteAddress: string,
      headers: Record<string, string> = {},
    ) => {
      const socket = new Socket();
      Object.defineProperty(socket, "remoteAddress", { value: remoteAddress });
      const req = new IncomingMessage(socket);
      Object.assign(req, { method: "GET", url: "/", headers: { host: "127.0.0.1:4000", ...headers } });
      req.push(null);
      const res = new ServerResponse(req);
      await handler(req, res);
      socket.destroy();
      return res.statusCode;
    };
    const open = createDashboard(errand);
    assert.equal(await request(open, "203.0.113.7"), 403, "another machine");
    assert.equal(await request(open, "::ffff:198.51.100.2"), 403, "another machine, IPv4 mapped into IPv6");
    assert.equal(await request(open, "127.0.0.1"), 200);
    assert.equal(await request(open, "::1"), 200);
    assert.equal(await request(open, "::1", { host: "[::1]:4000" }), 200);
    assert.equal(await request(open, "127.0.0.1", { host: "localhost" }), 200);
    // DNS rebinding: a page of evil.example re-pointed at 127.0.0.1 sends its own name as Host.
    assert.equal(await request(open, "127.0.0.1", { host: "evil.example:4000" }), 403, "a foreign Host");
    assert.equal(await request(open, "127.0.0.1", { host: "127.0.0.1.evil.example" }), 403);
    const checked = createDashboard(errand, { auth: { check: () => true } });
    assert.equal(await request(checked, "203.0.113.7"), 200, "the app's own check decides");
    const basic = createDashboard(errand, { auth: { username: "ops", password: "pa:ss" } });
    const creds = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}` });
    assert.equal(await request(basic, "203.0.113.7"), 401);
    assert.equal(await request(basic, "203.0.113.7", creds("ops", "wrong")), 401);
    assert.equal(await request(basic, "203.0.113.7", creds("ops", "pa:ss")), 200);
    assert.throws(() => createDashboard(errand, { auth: { token: "" } }), /auth\.token is empty/);
    assert.throws(() => createDashboard(errand, { auth: { username: "ops" } }), /without a non-empty auth\.password/);
    assert.throws(
      () => createDashboard(errand, { auth: { username: "ops", password: "" } }),
      /without a non-empty auth\.password/,
    );
    assert.throws(() => createDashboard(errand, { auth: { password: "x" } }), /without auth\.username/);
  });
});
