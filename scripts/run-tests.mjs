// Runs every *.test.ts under test/ and src/ with node's test runner (TypeScript through tsx).
// Node 20's --test takes no globs, so the files are listed here.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : [...find("src"), ...find("test")].sort();
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter", "spec", ...files], {
  stdio: "inherit",
  env: { ...process.env, ERRAND_LOG_LEVEL: process.env.ERRAND_LOG_LEVEL ?? "silent" },
});
process.exit(result.status ?? 1);
