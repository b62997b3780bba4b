// Packs errand as npm would publish it and checks the tarball: publint (package.json against the files it names)
// and arethetypeswrong (its types resolve the way its JavaScript does). Run through `npm run check:package`, which
// builds first.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const dir = mkdtempSync(join(tmpdir(), "errand-pack-"));
let failed = false;
try {
  // The build has just run; --ignore-scripts keeps `prepare` from running it again.
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
      cwd: root,
      encoding: "utf8",
    }),
  );
  const tarball = join(dir, packed[0].filename);
  console.log(`packed ${packed[0].filename}: ${packed[0].entryCount} files, ${packed[0].size} bytes`);
  const checks = [
    ["publint", ["--strict", tarball]],
    // errand is ESM only ("type": "module", an `import` export and no `require` one): the esm-only profile leaves
    // out node10 and require() from CommonJS, and checks ESM under node16/nodenext and bundlers.
    ["attw", ["--profile", "esm-only", tarball]],
  ];
  for (const [tool, args] of checks) {
    console.log(`\n$ ${tool} ${args.join(" ")}`);
    const result = spawnSync(bin(tool), args, { cwd: root, stdio: "inherit" });
    if (result.status !== 0) {
      console.error(`error: ${tool} found problems in the packed package (exit ${result.status ?? result.signal})`);
      failed = true;
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
