// The dashboard handler mounted in the user's own Express app, under a path of their choosing.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, it } from "node:test";
import express from "express";
import { createDashboard, Errand } from "errand";
import { tempDir } from "../helpers/tmp.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const errand = new Errand({ database: `sqlite:${join(tempDir("errand-mount-"), "jobs.db")}`, logger: quiet });
const task = errand.task("mounted", async () => "ok");
let base: string;
let close: () => Promise<void>;

before(async () => {
  await task.enqueue({ n: 1 } as never);
  const app = express();
  app.get("/", (_req, res) => res.send("the user's own home page"));
  app.use("/admin/jobs", createDashboard(errand, { basePath: "/admin/jobs", auth: { check: (req) => req.headers["x-admin"] === "yes" } }));
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
after(async () => {
  await close?.();
  await errand.close();
});

it("serves under the mount path with the app's own check, and leaves the rest of the app alone", async () => {
  const admin = { headers: { "x-admin": "yes" } };
  assert.equal((await fetch(`${base}/admin/jobs/`)).status, 401, "the check refuses");
  const overview = await fetch(`${base}/admin/jobs/`, admin);
  assert.equal(overview.status, 200);
  const page = await overview.text();
  assert.match(page, /href="\/admin\/jobs\/static\/dashboard\.css"/, "links carry the mount path");
  assert.match(page, /data-count="default:ready">1</);
  const list = await (await fetch(`${base}/admin/jobs/jobs?task=mounted`, admin)).text();
  assert.match(list, /href="\/admin\/jobs\/jobs\/1"/);
  assert.equal((await fetch(`${base}/admin/jobs/static/dashboard.js`, admin)).headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(await (await fetch(`${base}/`)).text(), "the user's own home page");
});
