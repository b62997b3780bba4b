// The layer check that `npm run lint` runs (.dependency-cruiser.cjs) holds on src/ as it stands, and fails on a
// copy of src/ given a deliberate cycle or an import that runs up the layers: a rule that could never fire would
// pass the first half alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const depcruise = join(root, "node_modules/dependency-cruiser/bin/dependency-cruiser.mjs");
const config = join(root, ".dependency-cruiser.cjs");

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [depcruise, "src", "--config", config, "--output-type", "err"], {
    cwd,
    encoding: "utf8",
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

const copies: string[] = [];
after(() => copies.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function copyOfSrc(): string {
  const dir = mkdtempSync(join(tmpdir(), "errand-layers-"));
  copies.push(dir);
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(root, "tsconfig.json"), join(dir, "tsconfig.json"));
  return dir;
}

test("src/ has no import cycle and no import that runs up the layers", () => {
  const { status, out } = cruise(root);
  assert.equal(status, 0, out);
});

test("every folder of src/ is a numbered layer that the check knows", async () => {
  const folders = readdirSync(join(root, "src"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  assert.ok(folders.length >= 10, folders.join(", "));
  const { default: rules } = (await import(config)) as { default: { forbidden: { name: string }[] } };
  const names = new Set(rules.forbidden.map((r) => r.name));
  // The top layer (the CLI) has nothing above it to forbid.
  for (const name of folders.slice(0, -1)) {
    assert.match(name, /^\d\d-[a-z-]+$/, `${name} is not a numbered layer`);
    assert.ok(names.has(`no-upward-from-${name}`), `.dependency-cruiser.cjs has no rule for ${name}`);
  }
});

test("an import from core up to the client fails the check, naming the rule", () => {
  const dir = copyOfSrc();
  writeFileSync(
    join(dir, "src/01-core/upward.ts"),
    'import type { Errand } from "../10-client/errand.js";\nexport type E = Errand;\n',
  );
  const { status, out } = cruise(dir);
  assert.notEqual(status, 0, out);
  assert.match(out, /no-upward-from-01-core/);
  assert.match(out, /src\/01-core\/upward\.ts/);
});

test("two files that import each other fail the check as a cycle, type-only imports included", () => {
  const dir = copyOfSrc();
  writeFileSync(join(dir, "src/06-tasks/loop-a.ts"), 'import type { B } from "./loop-b.js";\nexport type A = B[];\n');
  writeFileSync(join(dir, "src/06-tasks/loop-b.ts"), 'import type { A } from "./loop-a.js";\nexport type B = A[];\n');
  const { status, out } = cruise(dir);
  assert.notEqual(status, 0, out);
  assert.match(out, /no-circular/);
  assert.match(out, /loop-a\.ts/);
});

test("one engine importing the other fails the check", () => {
  const dir = copyOfSrc();
  writeFileSync(
    join(dir, "src/04-engines/sqlite/peek.ts"),
    'import type { PostgresBackend } from "../postgres/backend.js";\nexport type P = PostgresBackend;\n',
  );
  const { status, out } = cruise(dir);
  assert.notEqual(status, 0, out);
  assert.match(out, /engines-apart/);
});

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1));
}

test("the two engines hold the same file names, one per part of the contract, and the same SQL files", () => {
  const engines = join(root, "src/04-engines");
  const names = (engine: string, sub = "") =>
    readdirSync(join(engines, engine, sub))
      .filter((n) => n !== "driver")
      .sort();
  assert.deepEqual(names("sqlite"), names("postgres"));
  assert.deepEqual(names("sqlite", "sql"), names("postgres", "sql"));
  for (const part of ["enqueue", "claim", "outcomes", "leases", "maintenance", "reader", "admin", "flows", "schedules"])
    assert.ok(names("sqlite").includes(`${part}.ts`), `no ${part}.ts in the engines`);
});

test("no source file is over 400 lines", () => {
  const src = join(root, "src");
  const long = filesUnder(src)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => [f, readFileSync(join(src, f), "utf8").split("\n").length - 1] as const)
    .filter(([, lines]) => lines > 400);
  assert.deepEqual(long, [], "a file past 400 lines holds two duties: split it by duty");
});
