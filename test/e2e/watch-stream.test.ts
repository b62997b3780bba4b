// Watch streams served by the dashboard's handler mounted in node:http behind the app's own auth: Server-Sent Events
// of a job's updates for a request holding its watch token, every refusal (401, and the same 403 whatever was
// wrong), resuming with Last-Event-ID without a gap or a repeat, 204 once the end was seen; and in Debian's chromium,
// an EventSource that follows a job to its end across a cut connection.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { createDashboard, Errand } from "errand";
import { launchChromium } from "../helpers/browser.js";
import { bothBackends } from "../helpers/databases.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const SECRET = "a-watch-secret-of-at-least-32-characters";
const databases = bothBackends();
/** errand/browser as the package exports it, served to the page as a module. */
const BROWSER_CLIENT = fileURLToPath(import.meta.resolve("errand/browser"));

interface Sse {
  id?: string;
  event?: string;
  data?: unknown;
}

/** Mounts the dashboard (with auth: the app's own) and a page at /page; remembers sockets, to cut them. */
async function serve(errand: Errand): Promise<{ url: string; server: Server; sockets: Set<Socket> }> {
  const dashboard = createDashboard(errand, {
    basePath: "/errand",
    auth: { token: "dashboard-token-not-for-browsers" },
  });
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/errand")) return void dashboard(req, res);
    if (req.url === "/browser.js") {
      return void res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(BROWSER_CLIENT));
    }
    res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>app</title>");
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server, sockets };
}

/** Reads SSE messages off a response until the stream ends or `stopAfter` says so (then the connection is cut). */
async function readSse(res: Response, stopAfter?: (m: Sse) => boolean): Promise<Sse[]> {
  const messages: Sse[] = [];
  const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return messages;
    buffered += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf("\n\n")) >= 0) {
      const block = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      const m: Sse = {};
      for (const line of block.split("\n")) {
        const [field, ...rest] = line.split(": ");
        const value = rest.join(": ");
        if (field === "id") m.id = value;
        else if (field === "event") m.event = value;
        else if (field === "data") m.data = JSON.parse(value);
      }
      if (m.event === undefined) continue; // retry: and keepalive comments
      messages.push(m);
      if (stopAfter?.(m)) {
        await reader.cancel();
        return messages;
      }
    }
  }
}

for (const [name, database] of databases) {
  describe(`watch streams (${name})`, () => {
    it("streams a job's updates as SSE to its token's holder, resumes after a cut, and answers 204 after the end", async () => {
      const errand = new Errand({ database: await database(), logger: quiet, watchSecret: SECRET });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const thumb = errand.task("thumb", async (_a: object, ctx) => {
        await gate;
        for (let i = 1; i <= 4; i++) {
          await ctx.progress({ percent: i * 25 });
          await sleep(100);
        }
        return { url: "/t.png" };
      });
      const app = await serve(errand);
      const job = await thumb.enqueue({});
      const stream = `${app.url}/errand/watch/jobs/${job.id}?token=${job.watchToken()}`;
      const worker = await errand.work();
      try {
        const res = await fetch(stream);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
        // The first message (its state now), then the connection is cut.
        const head = await readSse(res, () => true);
        assert.equal(head[0]!.event, "state");
        const first = head[0]!.data as { state: string };
        assert.ok(first.state === "ready" || first.state === "running", first.state);
        assert.deepEqual(head[0]!.data, { id: job.id, state: first.state, attempt: first.state === "ready" ? 0 : 1 });
        release();
        await sleep(250); // progress goes on while nobody listens
        const resumed = await fetch(stream, { headers: { "Last-Event-ID": head[0]!.id! } });
        const rest = await readSse(resumed);
        const all = [...head, ...rest];
        assert.equal(new Set(all.map((m) => m.id)).size, all.length, `no repeat: ${JSON.stringify(all)}`);
        const last = rest.at(-1)!;
        assert.equal(last.event, "succeeded");
        assert.deepEqual(last.data, {
          id: job.id,
          state: "succeeded",
          attempt: 1,
          progress: { percent: 100 },
          result: { url: "/t.png" },
        });
        for (const m of rest.slice(0, -1)) assert.ok(["state", "progress"].includes(m.event!), m.event);
        // After the end: 204, so that EventSource stops.
        const again = await fetch(stream, { headers: { "Last-Event-ID": last.id! } });
        assert.equal(again.status, 204);
        // Without Last-Event-ID, a new watcher gets the end at once.
        const late = await readSse(await fetch(stream));
        assert.deepEqual(
          late.map((m) => m.event),
          ["succeeded"],
        );
        // A Last-Event-ID that is no job version (a client's own) is ignored: the stream starts from the state now.
        const bogus = await readSse(await fetch(stream, { headers: { "Last-Event-ID": "foo.bar" } }));
        assert.deepEqual(
          bogus.map((m) => m.event),
          ["succeeded"],
        );
      } finally {
        release();
        await worker.stop();
        app.server.closeAllConnections();
        app.server.close();
        await errand.close();
      }
    });

    it("refuses without a token (401), and alike (403) for another job's, a tampered, an expired or a forged one", async () => {
      let now = Date.now();
      const errand = new Errand({ database: await database(), logger: quiet, watchSecret: SECRET, clock: () => now });
      const t = errand.task("t", () => {});
      const app = await serve(errand);
      try {
        const job = await t.enqueue({});
        const other = await t.enqueue({});
        const at = (id: string, token?: string) =>
          fetch(
            `${app.url}/errand/watch/jobs/${id}${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}`,
          );
        const none = await at(job.id);
        assert.equal(none.status, 401);
        assert.match(await none.text(), /needs \?token= from job\.watchToken\(\)/);
        const token = job.watchToken({ expiresIn: "1m" });
        const forged = new Errand({ database: "memory:", logger: quiet, watchSecret: SECRET.toUpperCase() });
        const forgedToken = (await forged.task("t", () => {}).enqueue({})).watchToken();
        await forged.close();
        const bodies = new Set<string>();
        for (const [id, bad] of [
          [job.id, other.watchToken()],
          [job.id, token.replace(/.$/, (c) => (c === "A" ? "B" : "A"))],
          [job.id, forgedToken],
          ["999999", token], // no such job: the same answer
          [job.id, "garbage"],
        ] as const) {
          const res = await at(id, bad);
          assert.equal(res.status, 403, `${id} ${bad}`);
          bodies.add(await res.text());
        }
        now += 2 * 60_000;
        const expired = await at(job.id, token);
        assert.equal(expired.status, 403);
        bodies.add(await expired.text());
        assert.equal(bodies.size, 1, "every refusal reads the same");
        // The dashboard itself still needs its own auth.
        assert.equal((await fetch(`${app.url}/errand/jobs`)).status, 401);
        // A flow's token opens its flow's stream, not the job of the same id.
        const flow = await errand.chain(t.with({}), t).enqueue();
        const flowToken = flow.watchToken();
        assert.equal((await fetch(`${app.url}/errand/watch/jobs/${flow.id}?token=${flowToken}`)).status, 403);
        const flowStream = await fetch(`${app.url}/errand/watch/flows/${flow.id}?token=${flowToken}`, {
          signal: AbortSignal.timeout(5000),
        });
        assert.equal(flowStream.status, 200);
        const [first] = await readSse(flowStream, () => true);
        assert.equal(first!.event, "state");
        assert.deepEqual(
          (first!.data as { members: { state: string }[] }).members.map((m) => m.state),
          ["ready", "waiting"],
        );
      } finally {
        app.server.closeAllConnections();
        app.server.close();
        await errand.close();
      }
    });
  });
}

describe("a watch stream in a browser", () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closing.reverse()) await close();
  });

  it("EventSource follows a job to its end across a cut connection, without a repeat, then stops", async () => {
    const [, database] = databases[0]!;
    const errand = new Errand({ database: await database(), logger: quiet, watchSecret: SECRET });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const email = errand.task("email", async (_a: object, ctx) => {
      await gate;
      await ctx.progress("rendering");
      await sleep(300);
      await ctx.progress("sending");
      await sleep(300);
      return { sent: true };
    });
    const app = await serve(errand);
    const worker = await errand.work();
    const browser = await launchChromium();
    closing.push(
      async () => void (await errand.close()),
      async () => void app.server.close(),
      async () => app.server.closeAllConnections(),
      async () => void (await worker.stop()),
      async () => browser.close(),
    );
    const job = await email.enqueue({});
    const page = await browser.newPage();
    await page.goto(`${app.url}/page`);
    const path = `/errand/watch/jobs/${job.id}?token=${job.watchToken()}`;
    await page.evaluate((url) => {
      const w = globalThis as unknown as {
        got: { type: string; id: string; data: unknown }[];
        opens: number;
        es: EventSource;
      };
      w.got = [];
      w.opens = 0;
      w.es = new EventSource(url);
      w.es.onopen = () => w.opens++;
      for (const type of ["state", "progress", "succeeded", "failed", "cancelled"]) {
        w.es.addEventListener(type, (e) => {
          const m = e as unknown as { data: string; lastEventId: string };
          w.got.push({ type, id: m.lastEventId, data: JSON.parse(m.data) });
        });
      }
    }, path);
    await page.waitForFunction(() => (globalThis as unknown as { got: unknown[] }).got.length >= 1);
    // Cut every connection to the server: the stream breaks, and EventSource reconnects with Last-Event-ID.
    for (const s of app.sockets) s.destroy();
    release();
    await page.waitForFunction(
      () => (globalThis as unknown as { got: { type: string }[] }).got.some((g) => g.type === "succeeded"),
      null,
      {
        timeout: 15_000,
      },
    );
    // After the end, EventSource tries once more, gets 204, and stops for good (readyState CLOSED).
    await page.waitForFunction(() => (globalThis as unknown as { es: EventSource }).es.readyState === 2, null, {
      timeout: 10_000,
    });
    const { got, opens } = await page.evaluate(() => {
      const w = globalThis as unknown as { got: { type: string; id: string; data: unknown }[]; opens: number };
      return { got: w.got, opens: w.opens };
    });
    assert.ok(opens >= 2, `reconnected after the cut (opened ${opens} times)`);
    assert.equal(new Set(got.map((g) => g.id)).size, got.length, `no repeat: ${JSON.stringify(got)}`);
    assert.equal(got.filter((g) => g.type === "succeeded").length, 1);
    assert.deepEqual((got.at(-1)!.data as { result: unknown }).result, { sent: true });
  });

  it("errand/browser's watchJob() reports each update and the end, and reports a refused token as an error", async () => {
    const [, database] = databases[0]!;
    const errand = new Errand({ database: await database(), logger: quiet, watchSecret: SECRET });
    const resize = errand.task("resize", async (_a: object, ctx) => {
      for (const p of [30, 60, 90]) {
        await ctx.progress({ percent: p });
        await sleep(120);
      }
      return { thumbnail: "/t.png" };
    });
    const app = await serve(errand);
    const browser = await launchChromium();
    closing.push(
      async () => void (await errand.close()),
      async () => void app.server.close(),
      async () => app.server.closeAllConnections(),
      async () => browser.close(),
    );
    const job = await resize.enqueue({});
    const other = await resize.enqueue({});
    const page = await browser.newPage();
    await page.goto(`${app.url}/page`);
    const good = `/errand/watch/jobs/${job.id}?token=${job.watchToken()}`;
    const bad = `/errand/watch/jobs/${job.id}?token=${other.watchToken()}`;
    // A string, not a function: the test runner's compiler would wrap named callbacks in a helper the page lacks.
    await page.evaluate(`(async () => {
      const { watchJob } = await import("/browser.js");
      Object.assign(globalThis, { updates: [], done: [], errors: [], refused: [] });
      watchJob(${JSON.stringify(good)}, {
        onUpdate: (u) => globalThis.updates.push(u),
        onDone: (u) => globalThis.done.push(u),
        onError: (e) => globalThis.errors.push(e.message),
      });
      watchJob(${JSON.stringify(bad)}, { onError: (e) => globalThis.refused.push(e.message) });
    })()`);
    const worker = await errand.work();
    closing.push(async () => void (await worker.stop()));
    await page.waitForFunction(() => (globalThis as unknown as { done: unknown[] }).done.length === 1, null, {
      timeout: 15_000,
    });
    const updates = await page.evaluate(() => (globalThis as unknown as { updates: unknown[] }).updates);
    const done = await page.evaluate(() => (globalThis as unknown as { done: unknown[] }).done);
    const events = (updates as { event: string }[]).map((u) => u.event);
    assert.equal(events[0], "state");
    assert.equal(events.at(-1), "succeeded");
    assert.deepEqual((done[0] as { result: unknown }).result, { thumbnail: "/t.png" });
    assert.deepEqual((updates as { progress?: unknown }[]).filter((u) => u.progress !== undefined).at(-1)!.progress, {
      percent: 90,
    });
    // Every refusal, as the browser's own requests see it.
    // Expiries are whole seconds, rounded up: "1s" lasts one to two seconds.
    const expiring = job.watchToken({ expiresIn: "1s" });
    await sleep(2100);
    const statuses = await page.evaluate(
      `Promise.all(${JSON.stringify([
        `/errand/watch/jobs/${job.id}`,
        bad,
        good.replace(/.$/, (c) => (c === "A" ? "B" : "A")),
        `/errand/watch/jobs/${job.id}?token=${expiring}`,
        `/errand/watch/jobs/${job.id}?token=garbage`,
      ])}.map((u) => fetch(u).then((r) => r.status)))`,
    );
    assert.deepEqual(statuses, [401, 403, 403, 403, 403]);
    // The refused stream ends in onError once its reopens run out (about 5 s).
    await page.waitForFunction(() => (globalThis as unknown as { refused: unknown[] }).refused.length === 1, null, {
      timeout: 15_000,
    });
    const refused = await page.evaluate(() => (globalThis as unknown as { refused: string[] }).refused);
    assert.match(refused[0]!, /refused or is unreachable/);
  });
});
