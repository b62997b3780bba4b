// `npm run bench:evidence [-- --quick]`: the signup demo under load, the blocking route against the errand route.
// The demo runs in its own process (web app, SMTP server that takes 300 ms per mail, worker process); autocannon
// drives it from this one. Prints a table and writes bench/results/evidence.md and evidence.svg.
import autocannon from "autocannon";
import Database from "better-sqlite3";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { num, percentile, printTable } from "./lib/stats.mjs";
import { clickToPaint, launch, uploadToThumbnail } from "./evidence-browser.mjs";

const quick = process.argv.includes("--quick");
const DURATION_S = quick ? 3 : 10;
const CONNECTIONS = 10;
const SMTP_DELAY_MS = 300;
const root = fileURLToPath(new URL("..", import.meta.url));
const results = join(root, "bench", "results");

/** Starts `npm start`'s program with its own data directory; resolves with its URL and a stop(). */
async function startDemo(dataDir, { worker }) {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "examples/signup/main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      SIGNUP_DATA_DIR: dataDir,
      SIGNUP_PORT: "0",
      SIGNUP_SMTP_PORT: "0",
      SIGNUP_SMTP_DELAY_MS: String(SMTP_DELAY_MS),
      SIGNUP_WORKER: worker ? "1" : "0",
      ERRAND_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child.stdout.setEncoding("utf8");
  const url = await new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (chunk) => {
      seen += chunk;
      const match = /sign up:\s+(http:\/\/\S+?)\/\s/.exec(seen);
      if (match) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`the demo exited (${code}) before it was up:\n${seen}`)));
  });
  return {
    url,
    stop: () => new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGTERM"))),
  };
}

let serial = 0;
/** `duration` seconds of signups through `route` from `CONNECTIONS` connections; each request a new user. */
async function load(url, route, { overallRate } = {}) {
  const tag = `${route}-${++serial}`;
  const result = await autocannon({
    url: `${url}/signup/${route}`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        setupRequest: (request) => {
          const n = ++serial;
          return { ...request, body: `name=User+${n}&email=${tag}-${n}%40example.com` };
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${route}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  return { tag, result };
}

async function handlerTimes(url, route) {
  const times = await (await fetch(`${url}/stats`)).json();
  await fetch(`${url}/stats`, { method: "DELETE" });
  const sorted = Float64Array.from(times[route]).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** Waits until every user of the run has had their email, then the signup-to-arrival times in ms. */
async function emailTimes(url, dataDir, tag, timeoutMs) {
  const db = new Database(join(dataDir, "signup.db"), { readonly: true });
  const users = db.prepare("SELECT id, created_at FROM users WHERE email LIKE ?").all(`${tag}-%`);
  db.close();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await (await fetch(`${url}/emails.json`)).json();
    const arrived = new Map(mails.map((m) => [m.userId, m.receivedAt]));
    const times = users.map((u) => (arrived.has(u.id) ? arrived.get(u.id) - u.created_at : null));
    const missing = times.filter((t) => t === null).length;
    if (missing === 0) {
      const sorted = Float64Array.from(times).sort();
      return { users: users.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) };
    }
    if (Date.now() > deadline) return { users: users.length, missing };
    await new Promise((r) => setTimeout(r, 250));
  }
}

function row(name, run, handler, email) {
  const r = run.result;
  return {
    name,
    requests: r.requests.total,
    rps: r.requests.average,
    ttfbP50: r.latency.p50,
    ttfbP99: r.latency.p99,
    handlerP50: handler.p50,
    handlerP99: handler.p99,
    email,
  };
}

async function main() {
  const started = performance.now();
  console.log(
    `errand evidence${quick ? " (quick)" : ""}: signup demo, SMTP server accepting each mail after ${SMTP_DELAY_MS} ms, ` +
      `${CONNECTIONS} connections, ${DURATION_S} s per run, worker concurrency 50`,
  );
  const rows = [];
  let noWorker;

  const dataDir = mkdtempSync(join(tmpdir(), "errand-evidence-"));
  const demo = await startDemo(dataDir, { worker: true });
  let painted;
  try {
    // First, on an idle demo: under load each click would wait behind the load's own requests and emails.
    const browser = await launch();
    try {
      const clicks = quick ? 10 : 50;
      painted = {
        clicks,
        floor: await clickToPaint(browser, demo.url, "errand", clicks, "evidence", { floor: true }),
        blocking: await clickToPaint(browser, demo.url, "blocking", clicks, "evidence"),
        errand: await clickToPaint(browser, demo.url, "errand", clicks, "evidence"),
        upload: await uploadToThumbnail(browser, demo.url, quick ? 3 : 10),
      };
    } finally {
      await browser.close();
    }
    const blocking = await load(demo.url, "blocking");
    rows.push(
      row(
        "blocking: send the email in the request",
        blocking,
        await handlerTimes(demo.url, "blocking"),
        await emailTimes(demo.url, dataDir, blocking.tag, 30_000),
      ),
    );
    const rate = Math.max(1, Math.round(blocking.result.requests.average));
    const sameRate = await load(demo.url, "errand", { overallRate: rate });
    rows.push(
      row(
        `errand, at the blocking route's rate (${rate}/s)`,
        sameRate,
        await handlerTimes(demo.url, "errand"),
        await emailTimes(demo.url, dataDir, sameRate.tag, 60_000),
      ),
    );
    const flatOut = await load(demo.url, "errand");
    rows.push(
      row(
        "errand, as fast as it answers",
        flatOut,
        await handlerTimes(demo.url, "errand"),
        await emailTimes(demo.url, dataDir, flatOut.tag, 600_000),
      ),
    );
  } finally {
    await demo.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  // No worker: requests stay fast, jobs pile up, and both the app and `errand status` say so.
  const idleDir = mkdtempSync(join(tmpdir(), "errand-evidence-"));
  const idle = await startDemo(idleDir, { worker: false });
  try {
    const run = await load(idle.url, "errand");
    rows.push(row("errand, no worker running", run, await handlerTimes(idle.url, "errand"), null));
    const cli = (...args) =>
      spawnSync(process.execPath, [join(root, "dist/12-cli/main.js"), "status", ...args], {
        env: { ...process.env, ERRAND_DATABASE_URL: `sqlite:${join(idleDir, "signup.db")}` },
        encoding: "utf8",
      });
    const status = cli();
    const counts = JSON.parse(cli("--json").stdout).counts;
    await new Promise((r) => setTimeout(r, 1100));
    const page = await (await fetch(`${idle.url}/`)).text();
    noWorker = {
      waiting: counts.filter((c) => c.state === "ready").reduce((n, c) => n + c.count, 0),
      statusExit: status.status,
      statusWarning: /^WARNING: (.*)$/m.exec(status.stdout)?.[1] ?? null,
      pageBanner: /class="banner"[^>]*>([^<]*)</.exec(page)?.[1] ?? null,
    };
  } finally {
    await idle.stop();
    rmSync(idleDir, { recursive: true, force: true });
  }

  report(rows, noWorker, painted);
  console.log(`\ntook ${num((performance.now() - started) / 1000, 1)} s`);
}

const ms = (x) =>
  x === undefined || x === null
    ? ""
    : x >= 1000
      ? `${num(x / 1000, 2)} s`
      : `${num(x, x < 10 && !Number.isInteger(x) ? 2 : 0)} ms`;
const emailCell = (e, key) =>
  !e ? "no worker: waiting" : e.missing ? `${e.missing} of ${e.users} missing` : ms(e[key]);

function report(rows, noWorker, painted) {
  const header = [
    "",
    "requests/s",
    "TTFB p50",
    "TTFB p99",
    "handler p50",
    "handler p99",
    "email arrived p50",
    "email arrived p99",
  ];
  const cells = rows.map((r) => [
    r.name,
    num(r.rps),
    ms(r.ttfbP50),
    ms(r.ttfbP99),
    ms(r.handlerP50),
    ms(r.handlerP99),
    emailCell(r.email, "p50"),
    emailCell(r.email, "p99"),
  ]);
  printTable(
    "Signup: blocking vs errand (TTFB: autocannon's latency, the response is a small page; handler: the app's own timing; email arrived: signup to the SMTP server's acceptance)",
    header,
    cells,
  );
  const base = rows[0];
  const faster = rows
    .slice(1, 3)
    .map(
      (r) =>
        `${r.name}: TTFB p50 ${num(base.ttfbP50 / r.ttfbP50, 0)}x lower, ${num(r.rps / base.rps, 1)}x the requests/s`,
    );
  for (const line of faster) console.log(line);
  console.log(
    `no worker: ${num(noWorker.waiting)} jobs waiting; errand status exited ${noWorker.statusExit} with "${noWorker.statusWarning}"; ` +
      `the app's banner: "${noWorker.pageBanner}"`,
  );

  const paintRows = [
    [
      `floor: the form answered at once (no name: nothing stored)`,
      ms(painted.floor.p50),
      ms(painted.floor.p95),
      ms(painted.floor.max),
    ],
    [
      `blocking: click → confirmation painted`,
      ms(painted.blocking.p50),
      ms(painted.blocking.p95),
      ms(painted.blocking.max),
    ],
    [`errand: click → confirmation painted`, ms(painted.errand.p50), ms(painted.errand.p95), ms(painted.errand.max)],
    [
      `errand: upload click → thumbnail painted`,
      ms(painted.upload.p50),
      ms(painted.upload.p95),
      ms(painted.upload.max),
    ],
  ];
  printTable(
    `In chromium, one click at a time on the idle demo (${painted.clicks} signups per route, ${painted.upload.n} uploads): ` +
      "the click to the confirmation's first-contentful-paint, and to the thumbnail's load and the frame after it",
    ["", "p50", "p95", "max"],
    paintRows,
  );
  const ratio = painted.blocking.p50 / painted.errand.p50;
  console.log(
    `click → painted p50: the errand route ${num(ratio, 1)}x faster than the blocking route (target: 20x, ${ratio >= 20 ? "met" : "NOT met"}); ` +
      `the floor, a page answered with no work at all, ${num(painted.blocking.p50 / painted.floor.p50, 1)}x`,
  );

  mkdirSync(results, { recursive: true });
  const md = [
    `| | requests/s | TTFB p50 | TTFB p99 | handler p50 | handler p99 | email arrived p50 | email arrived p99 |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...cells.map((c) => `| ${c.join(" | ")} |`),
    "",
    `${CONNECTIONS} connections, ${DURATION_S} s per run, SMTP server accepting each mail after ${SMTP_DELAY_MS} ms, one worker process ` +
      `(concurrency 50). With no worker running: ${noWorker.waiting} jobs waited, \`errand status\` exited ${noWorker.statusExit} ` +
      `warning "${noWorker.statusWarning}", and the app showed the same warning.`,
    "",
    `| in chromium | p50 | p95 | max |`,
    `| --- | ---: | ---: | ---: |`,
    ...paintRows.map((c) => `| ${c.join(" | ")} |`),
    "",
    `One click at a time on the idle demo, ${painted.clicks} signups per route and ${painted.upload.n} uploads of a 1200×800 ` +
      `picture. Click → painted: from the click event to the confirmation page's first-contentful-paint, on chromium's ` +
      `own clock; the thumbnail: to its load event and the animation frame after it. Errand route p50 ${num(ratio, 1)}x ` +
      `faster than the blocking route's; the floor (the same form answered at once, nothing stored) ` +
      `${num(painted.blocking.p50 / painted.floor.p50, 1)}x.`,
    "",
  ].join("\n");
  writeFileSync(join(results, "evidence.md"), md);
  writeFileSync(join(results, "evidence.svg"), chart(rows));
  console.log("written: bench/results/evidence.md, bench/results/evidence.svg");
}

/** Horizontal bars of TTFB p50 and p99 per run, on a log scale so that both routes stay readable. */
function chart(rows) {
  const width = 760;
  const left = 300;
  const barH = 14;
  const rowH = 52;
  const top = 40;
  const height = top + rows.length * rowH + 40;
  const max = Math.max(...rows.map((r) => r.ttfbP99));
  const x = (v) => left + (Math.log10(Math.max(v, 0.1) / 0.1) / Math.log10(max / 0.1)) * (width - left - 110);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH;
      return `<text x="${left - 8}" y="${y + barH + 4}" text-anchor="end">${esc(r.name)}</text>
<rect x="${left}" y="${y}" width="${x(r.ttfbP50) - left}" height="${barH}" fill="#2b7bb9"/><text x="${x(r.ttfbP50) + 4}" y="${y + barH - 3}">p50 ${esc(ms(r.ttfbP50))}</text>
<rect x="${left}" y="${y + barH + 4}" width="${x(r.ttfbP99) - left}" height="${barH}" fill="#9cc3e4"/><text x="${x(r.ttfbP99) + 4}" y="${y + 2 * barH + 1}">p99 ${esc(ms(r.ttfbP99))}</text>`;
    })
    .join("\n");
  const ticks = [1, 10, 100, 1000, 10000]
    .filter((t) => t <= max)
    .map(
      (t) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="${top - 6}" y2="${height - 30}" stroke="#ddd"/><text x="${x(t)}" y="${height - 14}" text-anchor="middle">${t >= 1000 ? `${t / 1000} s` : `${t} ms`}</text>`,
    )
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="20" font-size="14" font-weight="600">Signup time to first byte (log scale): blocking vs errand</text>
${ticks}
${bars}
</svg>
`;
}

await main();
