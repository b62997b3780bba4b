import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

/** A fresh directory for this test file, removed when the file's tests end. */
export function tempDir(prefix = "errand-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let n = 0;
/** A new SQLite file URL in a temp directory. */
export function freshSqliteUrl(dir: string): string {
  return `sqlite:${join(dir, `db-${process.pid}-${++n}.db`)}`;
}
