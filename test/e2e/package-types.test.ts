// The packed package, installed as a user would get it, type-checks a consumer's `import { Errand } from "errand"`
// under each moduleResolution a user may pick.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "../helpers/tmp.js";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

// What a user's install holds besides errand: its dependencies, and the types a TypeScript app on Node has.
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};
const installed = [...Object.keys(manifest.dependencies), "@types/node"];

const consumer = `import { Errand, Job } from "errand";

const errand = new Errand({ database: "sqlite:./app.db" });
export const welcome = errand.task("welcome", async (args: { to: string }, ctx) => {
  ctx.signal.throwIfAborted();
  return args.to.length;
});
const job = await welcome.enqueue({ to: "a@example.com" });
const found: Job | null = await errand.getJob(job.id);
console.log(found?.id);
await errand.close();
`;

// A deliberate mistake beside it: were errand's types missing or `any`, tsc would accept it.
const mistaken = `import { Errand } from "errand";
import { welcome } from "./main.js";

await welcome.enqueue({ to: 42 });
export const n: number = new Errand();
`;

// skipLibCheck false (checking errand's own .d.ts under the user's settings) costs seconds per run on
// @types/node: done once, with nodenext.
const resolutions = [
  { module: "node16", moduleResolution: "node16", skipLibCheck: true },
  { module: "nodenext", moduleResolution: "nodenext", skipLibCheck: false },
  { module: "esnext", moduleResolution: "bundler", skipLibCheck: true },
];

// Made here, not in before(): a tempDir made in a hook is removed as soon as that hook ends.
const app = tempDir("errand-types-");

before(async () => {
  const packed = JSON.parse(
    (await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", app], { cwd: root })).stdout,
  ) as { filename: string }[];
  const target = join(app, "node_modules", "errand");
  mkdirSync(target, { recursive: true });
  await run("tar", ["-xzf", join(app, packed[0]!.filename), "-C", target, "--strip-components=1"]);
  for (const name of installed) {
    mkdirSync(dirname(join(app, "node_modules", name)), { recursive: true });
    symlinkSync(join(root, "node_modules", name), join(app, "node_modules", name), "dir");
  }
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
});

async function typecheck(resolution: (typeof resolutions)[number]) {
  const dir = join(app, resolution.moduleResolution);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "main.ts"), consumer);
  writeFileSync(join(dir, "mistaken.ts"), mistaken);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { ...resolution, target: "ES2022", strict: true, noEmit: true, types: ["node"] },
      files: ["main.ts", "mistaken.ts"],
    }),
  );
  return run(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { cwd: dir }).then(
    (r) => ({ code: 0, output: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      output: `${e.stdout}${e.stderr}`,
    }),
  );
}

describe("the packed package's types, installed in another project", () => {
  for (const resolution of resolutions) {
    it(`type-check a consumer with moduleResolution ${resolution.moduleResolution}, and report its type errors`, async () => {
      const { code, output } = await typecheck(resolution);
      const errors = output.split("\n").filter((line) => / error TS\d+/.test(line));
      assert.notEqual(code, 0, `tsc accepted a type error:\n${output}`);
      assert.deepEqual(
        errors.map((line) => line.replace(/\(\d+,\d+\)/, "")),
        [
          "mistaken.ts: error TS2322: Type 'number' is not assignable to type 'string'.",
          "mistaken.ts: error TS2322: Type 'Errand' is not assignable to type 'number'.",
        ],
        output,
      );
    });
  }
});
