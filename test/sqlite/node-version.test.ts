import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir();
const dist = pathToFileURL(join(import.meta.dirname, "..", "..", "dist", "index.js")).href;
// The system's Node, when it is older than errand supports (Debian's Node 20 on the test machines).
const OLD_NODE = process.env.ERRAND_OLD_NODE ?? "/usr/bin/node";

function majorOf(node: string): number | null {
  if (!existsSync(node)) return null;
  return Number(execFileSync(node, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim());
}

describe("an unsupported Node version", () => {
  const major = majorOf(OLD_NODE);
  const reason =
    major === null ? `no ${OLD_NODE} here` : major >= 22 ? `${OLD_NODE} is Node ${major}, a supported version` : null;
  it("gets a clear ErrandError, not a segmentation fault, when errand opens SQLite", { skip: reason ?? false }, () => {
    const script = `
      import { Errand } from ${JSON.stringify(dist)};
      const errand = new Errand({ database: ${JSON.stringify(`sqlite:${join(dir, "jobs.db")}`)} });
      errand.task("t", async () => {});
      try { await errand.migrate(); console.log("opened"); }
      catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }
    `;
    const child = spawnSync(OLD_NODE, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    console.log(`Node ${major}: exit ${child.status}, signal ${child.signal}, stdout ${child.stdout.trim()}`);
    assert.equal(child.signal, null, `Node ${major} was killed by ${child.signal}: ${child.stderr}`);
    const report = JSON.parse(child.stdout.trim()) as { code: string; message: string };
    assert.equal(report.code, "ERRAND_NODE_TOO_OLD");
    assert.match(report.message, /needs Node 22 or later.*Upgrade Node/);
  });
  if (reason !== null) console.log(`skipped the Node-version check: ${reason}`);
});
