// A real PostgreSQL server for the tests, found or started, and fresh databases on it.
// Order: ERRAND_TEST_POSTGRES_URL; else a server on 127.0.0.1:5432; else a throwaway cluster started from the
// local PostgreSQL binaries on a free port, stopped when the test process exits. Set
// ERRAND_TEST_POSTGRES_NO_LOCAL=1 to skip the 127.0.0.1:5432 probe (to exercise the throwaway path).
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

let server: Promise<string> | null = null;

/** A connection URL for the server's `postgres` database; found or started once per process. */
export function postgresServerUrl(): Promise<string> {
  server ??= findOrStart();
  return server;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function findOrStart(): Promise<string> {
  const tried: string[] = [];
  const fromEnv = process.env.ERRAND_TEST_POSTGRES_URL;
  if (fromEnv) {
    if (await answers(fromEnv)) return fromEnv;
    throw new Error(`ERRAND_TEST_POSTGRES_URL=${fromEnv} does not answer. Fix the URL or unset it.`);
  }
  if (!process.env.ERRAND_TEST_POSTGRES_NO_LOCAL) {
    const local = "postgres://postgres@127.0.0.1:5432/postgres";
    if (await answers(local)) return local;
    tried.push(`${local} did not answer`);
  }
  try {
    return await startThrowawayCluster();
  } catch (error) {
    tried.push(`starting a throwaway cluster failed: ${(error as Error).message}`);
  }
  throw new Error(
    `No PostgreSQL server for the tests: ${tried.join("; ")}. Install PostgreSQL (apt-get install postgresql), ` +
      `start it on 127.0.0.1:5432 with trust auth for user postgres, or set ERRAND_TEST_POSTGRES_URL.`,
  );
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, "bin", "initdb"))) return join(root, v, "bin");
  throw new Error(`no initdb under ${root}`);
}

/** A TCP port on loopback that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function startThrowawayCluster(): Promise<string> {
  return (await startPostgresCluster()).url;
}

export interface Cluster {
  url: string;
  port: number;
  /** The server's log file (pg_ctl -l), e.g. to look for "deadlock detected". */
  logFile: string;
  /** pg_ctl restart -m fast: every connection is cut, as in a real restart. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * A PostgreSQL cluster of this test process's own, for tests that stop or restart the server. With `password`,
 * TCP connections need it (scram-sha-256) and `url` carries it.
 */
export async function startPostgresCluster(settings: { password?: string } = {}): Promise<Cluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "errand-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  // initdb refuses to run as root: run the binaries as the postgres user then.
  const asOwner = (cmd: string, args: string[]) => {
    if (userInfo().uid === 0)
      execFileSync("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args], { stdio: "pipe" });
    else execFileSync(join(bin, cmd), args, { stdio: "pipe" });
  };
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir}`;
  const pgCtl = (...args: string[]) => asOwner("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", ...args]);
  const auth = ["--auth=trust"];
  if (settings.password !== undefined) {
    const pwfile = join(dir, "pwfile");
    writeFileSync(pwfile, `${settings.password}\n`, { mode: 0o644 });
    auth.splice(0, 1, "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
  }
  asOwner("initdb", ["-D", data, "-U", "postgres", ...auth, "--no-sync"]);
  pgCtl("start", "-o", options);
  process.on("exit", () => {
    try {
      asOwner("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const user = settings.password === undefined ? "postgres" : `postgres:${encodeURIComponent(settings.password)}`;
  const url = `postgres://${user}@127.0.0.1:${port}/postgres`;
  if (!(await answers(url))) throw new Error(`the cluster in ${data} started but does not answer on port ${port}`);
  return {
    url,
    port,
    logFile: join(dir, "log"),
    restart: async () => pgCtl("restart", "-m", "fast", "-o", options),
    stop: async () => pgCtl("stop", "-m", "fast"),
    start: async () => pgCtl("start", "-o", options),
  };
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await postgresServerUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

let count = 0;
const templates = new Map<string, Promise<string>>();

export interface FreshDatabase {
  url: string;
  drop: () => Promise<void>;
}

/**
 * A new, empty database. With `template`, the first call for a `templateKey` in this process builds a template
 * database with it (e.g. migrates the schema), and each database is then a cheap copy of that template.
 */
export async function freshPostgresDatabase(
  options: { templateKey?: string; template?: (url: string) => Promise<void> } = {},
): Promise<FreshDatabase> {
  const base = await postgresServerUrl();
  let template: string | undefined;
  if (options.template) {
    const key = options.templateKey ?? "default";
    let made = templates.get(key);
    if (!made) {
      made = (async () => {
        const name = `errand_tmpl_${key.replace(/\W/g, "_")}_${process.pid}`;
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
        await admin((c) => c.query(`CREATE DATABASE ${name}`));
        await options.template!(withDatabase(base, name));
        return name;
      })();
      templates.set(key, made);
    }
    template = await made;
  }
  const name = `errand_test_${process.pid}_${++count}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ""}`));
  return {
    url: withDatabase(base, name),
    drop: () => dropLater(name),
  };
}

/** Databases to drop once this process exits, and the server they are on. */
const toDrop = new Set<string>();
let dropServer: string | null = null;

/**
 * Schedules a test database's drop for when this process has exited, by a detached process (drop-databases.mjs):
 * a drop forces a checkpoint (about a second each, 210 s in all across the suite when each file waited for its
 * own), and the sessions this process still holds must be gone first, or the server's termination of them would
 * surface here as an unhandled "terminating connection due to administrator command".
 */
async function dropLater(name: string): Promise<void> {
  dropServer ??= await postgresServerUrl();
  if (toDrop.size === 0) process.once("exit", spawnDropper);
  toDrop.add(name);
}

function spawnDropper(): void {
  if (toDrop.size === 0 || dropServer === null) return;
  const script = fileURLToPath(new URL("./drop-databases.mjs", import.meta.url));
  spawn(process.execPath, [script, dropServer, ...toDrop], { detached: true, stdio: "ignore" }).unref();
}

/** Drops this process's template databases once it has exited (dropLater); call from an `after` hook. */
export async function dropTemplates(): Promise<void> {
  for (const made of templates.values()) {
    const name = await made.catch(() => null);
    if (name) await dropLater(name);
  }
  templates.clear();
}
