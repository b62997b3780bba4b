// `npx errand worker` under a supervisor: SIGTERM goes to npm, which exits without passing it on to the worker it
// started (through a shell). The worker must still stop gracefully, finishing its running job, not run on orphaned.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { tempDir } from "../helpers/tmp.js";

const root = resolve(import.meta.dirname, "../..");
const bin = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: { errand: string } }).bin.errand;
// npx from PATH, as a user runs it; its `errand` runs on the first node on PATH.
const npx = process.env.PATH?.split(":")
  .map((dir) => join(dir, "npx"))
  .find((path) => existsSync(path));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let workerPid: number | null = null;
after(() => {
  if (workerPid !== null && alive(workerPid)) process.kill(workerPid, "SIGKILL");
});

it(
  "stops gracefully when npx, which started it, is killed with SIGTERM",
  { skip: npx === undefined && "no npx on PATH" },
  async () => {
    const app = tempDir("errand-npx-");
    mkdirSync(join(app, "node_modules", ".bin"), { recursive: true });
    symlinkSync(root, join(app, "node_modules", "errand"), "dir");
    symlinkSync(join(root, bin), join(app, "node_modules", ".bin", "errand"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "npx-app", private: true, type: "module" }));
    writeFileSync(
      join(app, "tasks.mjs"),
      `import { Errand } from "errand";
     import { writeFileSync } from "node:fs";
     writeFileSync("worker.pid", String(process.pid));
     export const errand = new Errand({ database: "sqlite:./app.db" });
     errand.task("slow", async () => { writeFileSync("started", ""); await new Promise((r) => setTimeout(r, 1500)); return "done"; });`,
    );
    const errand = new Errand({ database: `sqlite:${join(app, "app.db")}`, logger: silentLogger });
    after(() => errand.close());
    const slow = errand.task("slow", async () => "not run here");
    const job = await slow.enqueue(undefined);

    let output = "";
    const npm = spawn(npx!, ["errand", "worker", "./tasks.mjs"], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, npm_config_update_notifier: "false" },
    });
    npm.stdout.on("data", (d: Buffer) => (output += d.toString()));
    npm.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const npmExited = new Promise<void>((done) => npm.on("exit", () => done()));

    await waitFor("the job to start", () => existsSync(join(app, "started")), 20_000);
    workerPid = Number(readFileSync(join(app, "worker.pid"), "utf8"));
    assert.notEqual(workerPid, npm.pid, "npx runs the worker in a process of its own");
    npm.kill("SIGTERM");
    await npmExited;

    await waitFor("the orphaned worker to stop", () => !alive(workerPid!), 10_000);
    assert.match(output, /the process that started this worker \(pid \d+\) exited: stopping worker/);
    assert.equal(await job.status(), "succeeded", "the running job finished before the worker stopped");
  },
);
