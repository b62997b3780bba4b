import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "../helpers/tmp.js";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
/** The CLI as the package publishes it: package.json's `bin`, wherever the build puts it. */
const bin = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: { errand: string } }).bin.errand;

it("works from another project that links this folder as node_modules/errand", async () => {
  const app = tempDir("errand-app-");
  mkdirSync(join(app, "node_modules", ".bin"), { recursive: true });
  symlinkSync(root, join(app, "node_modules", "errand"), "dir");
  symlinkSync(join(root, bin), join(app, "node_modules", ".bin", "errand"));
  writeFileSync(
    join(app, "main.mjs"),
    `import { Errand } from "errand";
     const errand = new Errand({ database: "sqlite:./app.db" });
     const job = await errand.task("hello", async (a) => "hello " + a.name).enqueue({ name: "linked" });
     console.log(job.id);
     await errand.close();`,
  );
  const enqueued = await run(process.execPath, ["main.mjs"], { cwd: app });
  assert.match(enqueued.stdout, /^\d+\n$/);
  type Output = { code?: number; stdout: string; stderr: string };
  const status: Output = await run(
    join(app, "node_modules", ".bin", "errand"),
    ["jobs", "--json", "--database", "sqlite:./app.db"],
    { cwd: app },
  ).catch((e: Output) => e);
  assert.equal(status.code ?? 0, 0, `${status.stderr}`);
  const jobs = JSON.parse(status.stdout) as { task: string; state: string }[];
  assert.deepEqual(
    jobs.map((j) => [j.task, j.state]),
    [["hello", "ready"]],
  );
});
