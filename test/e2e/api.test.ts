// The JSON API, on the dashboard's own server (startDashboard, with a token) and mounted in a plain node:http server
// under a base path: enqueue, read, list and page, cancel and retry; bad input refused with nothing stored; the
// dashboard's authentication and its CSRF rules for cookie-authenticated writes; and an OpenAPI 3.1 document that a
// validator accepts, on both engines.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { validate } from "@readme/openapi-parser";
import { createDashboard, Errand, startDashboard } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { bothBackends } from "../helpers/databases.js";

/** What the API answers, as the tests read it: a job's record, a page of them, or an error. */
interface Answer {
  id: string;
  task: string;
  queue: string;
  priority: number;
  key: string | null;
  state: string;
  runAt: string;
  args: unknown;
  jobs: { id: string }[];
  next: string | null;
  error: { code: string; message: string };
}

const TOKEN = "a-token-of-the-api-test-0123456789";
const closers: (() => Promise<unknown>)[] = [];
// Registered before the databases' own hook, so that it runs first.
after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
});
const backends = bothBackends();

async function setUp(fresh: () => Promise<string>) {
  const errand = new Errand({ database: await fresh(), logger: silentLogger, redact: ["password"] });
  closers.push(() => errand.close());
  const signup = errand.task("signup", async (_args: { email: string; password?: string }) => "ok", {
    schema: {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value: unknown) =>
          typeof (value as { email?: unknown })?.email === "string"
            ? { value }
            : { issues: [{ message: "email must be a string", path: ["email"] }] },
      },
    },
  });
  await errand.migrate();
  const dashboard = await startDashboard(errand, { port: 0, auth: { token: TOKEN } });
  closers.push(() => dashboard.close());
  const api = new URL("api/", dashboard.url);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(new URL(path, api), {
      method,
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Answer) : null };
  };
  return { errand, signup, dashboard, api, call };
}

for (const [name, fresh] of backends) {
  describe(`the JSON API (${name})`, () => {
    it("enqueues (201, Location, the record), reads, lists with filters and pages", async () => {
      const { errand, call } = await setUp(fresh);
      const made = await call("POST", "jobs", {
        task: "signup",
        args: { email: "ann@example.com", password: "hunter2" },
        options: { queue: "emails", priority: 5, key: "signup:ann", runAt: "2030-01-01T00:00:00Z" },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const id = made.body!.id;
      assert.match(made.headers.get("location")!, new RegExp(`/api/jobs/${id}$`));
      assert.equal(made.body!.task, "signup");
      assert.equal(made.body!.queue, "emails");
      assert.equal(made.body!.priority, 5);
      assert.equal(made.body!.key, "signup:ann");
      assert.equal(made.body!.state, "scheduled");
      assert.equal(made.body!.runAt, "2030-01-01T00:00:00.000Z");
      assert.deepEqual(made.body!.args, { email: "ann@example.com", password: "[redacted]" });
      assert.deepEqual((await (await errand.getJob(id))!.get()).args, {
        email: "ann@example.com",
        password: "hunter2",
      });

      const read = await call("GET", `jobs/${id}`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, made.body);

      const second = await call("POST", "jobs", { task: "signup", args: { email: "bob@example.com" } });
      assert.equal(second.status, 201);
      assert.equal(second.body!.state, "ready");
      const first = await call("GET", "jobs?task=signup&limit=1");
      assert.deepEqual(
        first.body!.jobs.map((j) => j.id),
        [second.body!.id],
      );
      assert.equal(first.body!.next, second.body!.id);
      const rest = await call("GET", `jobs?task=signup&limit=1&before=${first.body!.next}`);
      assert.deepEqual(
        rest.body!.jobs.map((j) => j.id),
        [id],
      );
      assert.equal(rest.body!.next, null);
      const scheduled = await call("GET", "jobs?state=scheduled");
      assert.deepEqual(
        scheduled.body!.jobs.map((j) => j.id),
        [id],
      );
      assert.equal((await call("GET", "jobs/999999")).status, 404);
    });

    it("refuses bad input with a clear error and stores nothing", async () => {
      const { errand, call } = await setUp(fresh);
      const cases: [unknown, number, RegExp][] = [
        ["{not json", 400, /not JSON/],
        [[1, 2], 400, /must be a JSON object/],
        [{ task: "nope", args: {} }, 422, /no task named "nope".*defined: signup/],
        [{ task: "signup", args: { email: 42 } }, 400, /email must be a string/],
        [{ task: "signup", args: { email: "a@b" }, options: { colour: "red" } }, 400, /colour/],
        [{ task: "signup", args: { email: "a@b" }, options: { runAt: "next tuesday" } }, 400, /options\.runAt/],
        [{ task: "signup", args: { email: "a@b" }, extra: 1 }, 400, /unknown field "extra"/],
      ];
      for (const [body, status, message] of cases) {
        const res = await call("POST", "jobs", body);
        assert.equal(res.status, status, JSON.stringify([body, res.body]));
        assert.match(res.body!.error.message, message);
        assert.equal(typeof res.body!.error.code, "string");
      }
      assert.equal((await call("GET", "jobs?colour=red")).status, 400);
      assert.equal((await call("GET", "jobs?state=done")).status, 400);
      assert.equal((await call("DELETE", "jobs")).status, 405);
      assert.deepEqual(await errand.listJobs(), []);
    });

    it("cancels and retries, with 409 when the job's state does not allow it", async () => {
      const { call } = await setUp(fresh);
      const id = (await call("POST", "jobs", { task: "signup", args: { email: "c@example.com" } })).body!.id;
      const cancelled = await call("POST", `jobs/${id}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body!.state, "cancelled");
      assert.equal((await call("POST", `jobs/${id}/cancel`)).status, 409);
      const retried = await call("POST", `jobs/${id}/retry`);
      assert.equal(retried.status, 200);
      assert.equal(retried.body!.state, "ready");
      const again = await call("POST", `jobs/${id}/retry`);
      assert.equal(again.status, 409);
      assert.match(again.body!.error.message, /only a failed or cancelled job/);
      assert.equal((await call("POST", "jobs/424242/cancel")).status, 404);
    });

    it("cancels, retries and deletes every job a filter selects, and refuses a bad filter changing nothing", async () => {
      const { errand, signup, call } = await setUp(fresh);
      await signup.enqueueMany(
        Array.from({ length: 7 }, (_, i) => ({ email: `u${i}@example.com` })),
        {
          queue: "emails",
        },
      );
      await signup.enqueue({ email: "other@example.com" });
      const bulk = async (verb: string, body: unknown) => {
        const res = await call("POST", `jobs/${verb}`, body);
        return { status: res.status, body: res.body as unknown as { count: number; error: Answer["error"] } };
      };
      const refusals: [string, unknown, RegExp][] = [
        ["cancel", {}, /the filter is empty/],
        ["cancel", { tsk: "signup" }, /unknown filter field "tsk"/],
        ["cancel", { state: "failed" }, /state "failed" is not one it acts on/],
        ["delete", { state: "running" }, /cancel a running job first/],
        ["retry", { createdBefore: "last week" }, /createdBefore must be an ISO-8601 time/],
        ["retry", [1], /must be a JSON object/],
      ];
      for (const [verb, body, message] of refusals) {
        const res = await bulk(verb, body);
        assert.equal(res.status, 400, JSON.stringify([verb, body, res.body]));
        assert.match(res.body.error.message, message);
      }
      assert.equal((await call("GET", "jobs/cancel")).status, 405);
      assert.deepEqual(await bulk("cancel", { queue: "emails", dryRun: true }), {
        status: 200,
        body: { action: "cancel", count: 7, dryRun: true },
      });
      assert.equal((await errand.listJobs({ state: "cancelled" })).length, 0, "nothing changed so far");
      const before = new Date(Date.now() + 60_000).toISOString();
      assert.deepEqual(await bulk("cancel", { queue: ["emails"], task: "signup", createdBefore: before }), {
        status: 200,
        body: { action: "cancel", count: 7, dryRun: false },
      });
      assert.equal((await bulk("retry", { state: "cancelled", batchSize: 3 })).body.count, 7);
      assert.equal((await bulk("cancel", { all: true })).body.count, 8);
      assert.equal((await bulk("delete", { queue: "emails", createdAfter: 0 })).body.count, 7);
      assert.deepEqual(
        (await errand.listJobs()).map((j) => [j.queue, j.state]),
        [["default", "cancelled"]],
      );
    });

    it("keeps the dashboard's authentication, and its CSRF rules for writes without a bearer token", async () => {
      const { errand, call, dashboard } = await setUp(fresh);
      const none = await fetch(new URL("api/jobs", dashboard.url));
      assert.equal(none.status, 401);
      const wrong = await call("GET", "jobs", undefined, { Authorization: "Bearer nope" });
      assert.equal(wrong.status, 401);
      const cookie = `errand_dashboard=${TOKEN}`;
      const body = { task: "signup", args: { email: "d@example.com" } };
      // A cookie carries no proof of where the request came from: the CSRF token must come with it.
      const noCsrf = await call("POST", "jobs", body, { Authorization: "", Cookie: cookie });
      assert.equal(noCsrf.status, 403);
      assert.match(noCsrf.body!.error.message, /CSRF/);
      const page = await (await fetch(dashboard.url, { headers: { Cookie: cookie } })).text();
      const csrf = /<meta name="errand-csrf" content="([^"]+)">/.exec(page)?.[1];
      assert.ok(csrf, "the dashboard's pages carry the CSRF token");
      const crossSite = await call("POST", "jobs", body, {
        Authorization: "",
        Cookie: cookie,
        "X-CSRF-Token": csrf,
        Origin: "https://evil.example",
      });
      assert.equal(crossSite.status, 403);
      const plain = await call("POST", "jobs", JSON.stringify(body), {
        Authorization: "",
        Cookie: cookie,
        "X-CSRF-Token": csrf,
        "Content-Type": "text/plain",
      });
      assert.equal(plain.status, 415);
      assert.deepEqual(await errand.listJobs(), []);
      const ok = await call("POST", "jobs", body, { Authorization: "", Cookie: cookie, "X-CSRF-Token": csrf });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      const bulkNoCsrf = await call("POST", "jobs/cancel", { all: true }, { Authorization: "", Cookie: cookie });
      assert.equal(bulkNoCsrf.status, 403, "a bulk action keeps the same rules");
      assert.equal((await errand.listJobs({ state: "cancelled" })).length, 0);
      const bulkOk = await call(
        "POST",
        "jobs/cancel",
        { all: true },
        { Authorization: "", Cookie: cookie, "X-CSRF-Token": csrf },
      );
      assert.equal(bulkOk.status, 200, JSON.stringify(bulkOk.body));
    });
  });
}

describe("the JSON API mounted in a node:http server", () => {
  it("answers under the base path, behind the app's own check, and its OpenAPI 3.1 document validates", async () => {
    const errand = new Errand({ database: await backends[0]![1](), logger: silentLogger });
    closers.push(() => errand.close());
    errand.task("resize", async (_args: { path: string }) => {});
    await errand.migrate();
    const handler = createDashboard(errand, {
      basePath: "/admin/errand",
      auth: { check: (req) => req.headers["x-app-user"] === "admin" },
    });
    const server: Server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/errand/api`;
    assert.equal((await fetch(`${base}/openapi.json`)).status, 401);
    const res = await fetch(`${base}/openapi.json`, { headers: { "x-app-user": "admin" } });
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; servers: { url: string }[] };
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(doc.servers, [{ url: "/admin/errand/api" }]);
    const checked = await validate(structuredClone(doc) as never);
    assert.equal(checked.valid, true, JSON.stringify(checked));
    // A write with the app's own check and no cookie: JSON from this page is enough.
    const made = await fetch(`${base}/jobs`, {
      method: "POST",
      headers: { "x-app-user": "admin", "Content-Type": "application/json" },
      body: JSON.stringify({ task: "resize", args: { path: "a.png" } }),
    });
    assert.equal(made.status, 201);
    const job = (await made.json()) as { id: string; task: string };
    assert.equal(job.task, "resize");
    assert.equal((await errand.getJob(job.id)) !== null, true);
  });
});
