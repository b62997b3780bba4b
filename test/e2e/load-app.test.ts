import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { output, runCli, sandbox, startCli, waitFor, type Sandbox } from "../helpers/cli.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A project as `npm install errand` leaves it, with no "type": "module": its .ts files load as CommonJS. Its
 * tasks.ts defines the task "greet" and imports errand from `specifier`.
 */
function commonJsProject(dir: string, specifier: string): string {
  const project = join(dir, "app");
  mkdirSync(join(project, "node_modules"), { recursive: true });
  symlinkSync(REPO, join(project, "node_modules", "errand"), "dir");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true }));
  writeFileSync(
    join(project, "tasks.ts"),
    [
      `import { Errand } from "${specifier}";`,
      `const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL });`,
      `errand.task("greet", (args: { name: string }): string => \`hello \${args.name}\`);`,
      `export default errand;`,
    ].join("\n"),
  );
  return project;
}

/** `errand worker ./tasks.ts` in the project runs a job, and `errand status --app ./tasks.ts` reads its database. */
async function runsGreet(box: Sandbox, project: string): Promise<void> {
  const job = await box.errand.task("greet", () => "").enqueue({ name: "Ann" });
  const worker = startCli(["worker", "./tasks.ts"], box.env, project);
  await waitFor(
    "the job to succeed",
    async () => worker.hasExited || (await job.status()) === "succeeded",
    10_000,
    () => worker.stderr,
  );
  assert.equal((await job.get()).result, "hello Ann", worker.stderr);
  await worker.kill("SIGTERM");
  assert.equal(await worker.exitCode(), 0, worker.stderr);

  const status = await runCli(["status", "--app", "./tasks.ts"], box.env, project);
  assert.equal(status.code, 0, output(status));
  assert.ok(status.stdout.includes(`Database: ${box.database}\n`), output(status));
}

describe("loading the user's module", () => {
  it("runs a TypeScript module of a CommonJS project", async () => {
    const box = sandbox();
    // The project imports errand by file path: see the next test for the package name.
    const project = commonJsProject(box.dir, "./node_modules/errand/dist/index.js");
    await runsGreet(box, project);
  });

  it("runs a TypeScript module of a CommonJS project that imports errand by name", async () => {
    const box = sandbox();
    await runsGreet(box, commonJsProject(box.dir, "errand"));
  });

  it("reports where a TypeScript module fails to compile", async () => {
    const box = sandbox();
    const file = join(box.dir, "broken.ts");
    writeFileSync(file, "export const limit: number = ;\n");
    const ran = await runCli(["jobs", "--app", file], box.env);
    assert.equal(ran.code, 1, output(ran));
    assert.match(
      ran.stderr,
      new RegExp(`^errand: could not load ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*broken\\.ts:1:\\d+`, "s"),
    );
  });
});
