import { Errand } from "errand";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
const dir = mkdtempSync(join(tmpdir(), "rec-"));
const url = `sqlite:${join(dir, "r.db")}`;
const errand = new Errand({ database: url, logger: { debug() {}, info() {}, warn() {}, error() {} } });
const callApi = errand.task("call-api", async () => 0);
await errand.migrate();
await callApi.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ ms: 20 + ((i * 37) % 181) })));
const env = { ...process.env, ERRAND_DATABASE_URL: url, ERRAND_LOG_LEVEL: "warn" };
const ws = [0, 1].map(() =>
  spawn(process.execPath, ["dist/12-cli/main.js", "worker", "bench/fixtures/timed-tasks.mjs", "--concurrency", "20"], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  }),
);
ws[1].stderr.on("data", (d) =>
  process.stderr.write(`[w1 +${((Date.now() - (globalThis.k ?? Date.now())) / 1000).toFixed(1)}] ${d}`),
);
const succ = async () => (await errand.status()).counts.find((c) => c.state === "succeeded")?.count ?? 0;
while ((await succ()) < 150) await sleep(20);
ws[0].kill("SIGKILL");
const k = Date.now();
globalThis.k = k;
while ((await succ()) < 500) await sleep(50);
console.log("recovered in", (Date.now() - k) / 1000);
const jobs = await errand.listJobs({ limit: 500 });
for (const j of jobs.filter((j) => j.errors.length))
  console.log(
    j.id,
    j.attempt,
    "err at",
    ((Date.parse(j.errors[0].at) - k) / 1000).toFixed(1),
    "started",
    ((j.startedAt - k) / 1000).toFixed(1),
    "fin",
    ((j.finishedAt - k) / 1000).toFixed(1),
    /is counted/.test(j.errors[0].message) ? "C" : "-",
  );
ws[1].kill("SIGKILL");
await errand.close();
