// Helpers of the fault tests: an application folder outside the repository that imports errand by its package
// name (as a user's project does), and percentiles for the printed figures.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pg from "pg";
import { tempDir } from "../helpers/tmp.js";

const root = resolve(import.meta.dirname, "../..");

/** A temp folder with node_modules/errand linked to this package, and `files` written into it. Returns its path. */
export function appDir(files: Record<string, string>): string {
  const dir = tempDir("errand-chaos-");
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(root, join(dir, "node_modules", "errand"), "dir");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs one statement on a direct connection (not through any proxy). */
export async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Milliseconds since `t0` (from performance.now()), rounded. */
export function since(t0: number): number {
  return Math.round(performance.now() - t0);
}
