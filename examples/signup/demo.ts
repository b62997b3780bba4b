// Starts the whole demo: the SMTP server, the web app and (unless told not to) a worker process.
// Used by `npm start` (main.ts), the tests and the evidence bench.
import { spawn, type ChildProcess } from "node:child_process";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createApp } from "./app.js";
import { config, databaseFile } from "./config.js";
import { closeMail } from "./mail.js";
import { startMailServer, type MailServer } from "./smtp.js";
import { errand } from "./tasks.js";
import { openUsers, type Users } from "./users.js";

const CLI = fileURLToPath(new URL("../../dist/12-cli/main.js", import.meta.url));
const TASKS = fileURLToPath(new URL("./tasks.ts", import.meta.url));

export interface Demo {
  url: string;
  mail: MailServer;
  users: Users;
  /** The worker process; startWorker() starts one if none runs. */
  readonly worker: ChildProcess | null;
  startWorker(): Promise<void>;
  /** SIGTERM: the worker finishes what it runs, gives back what it holds, and exits. */
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDemo(options: { worker?: boolean; log?: (line: string) => void } = {}): Promise<Demo> {
  const log = options.log ?? (() => {});
  const mail = await startMailServer({
    port: config.smtpPort,
    delayMs: config.smtpDelayMs,
    logFile: join(config.dataDir, "received-mail.jsonl"),
  });
  // The worker process and this one's mailer find the server here, whatever port it took.
  process.env.SIGNUP_SMTP_PORT = String(mail.port);
  await errand.migrate();
  const users = openUsers(databaseFile());
  const server: Server = createApp(users, mail).listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
  const { port } = server.address() as AddressInfo;

  let worker: ChildProcess | null = null;
  const startWorker = async () => {
    if (worker) return;
    const child = spawn(process.execPath, [CLI, "worker", TASKS, "--concurrency", "50"], {
      env: { ...process.env, SIGNUP_SMTP_PORT: String(mail.port), SIGNUP_DATA_DIR: config.dataDir },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: a Ctrl-C in the terminal reaches this process only, which stops the worker with one
      // SIGTERM (a second signal would make the worker exit at once, without finishing its jobs).
      detached: true,
    });
    worker = child;
    process.once("exit", () => child.kill("SIGTERM"));
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) =>
        chunk
          .split("\n")
          .filter(Boolean)
          .forEach((line) => log(`worker: ${line}`)),
      );
    }
    child.once("exit", () => {
      if (worker === child) worker = null;
    });
    // Ready once its heartbeat is in the database, as `errand status` would see it.
    const deadline = Date.now() + 20_000;
    while ((await errand.status()).workers.length === 0) {
      if (child.exitCode !== null) throw new Error(`the worker exited with code ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error("the worker did not start within 20 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stopWorker = async () => {
    const child = worker;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  if (options.worker !== false) await startWorker();

  return {
    url: `http://${config.host}:${port}`,
    mail,
    users,
    get worker() {
      return worker;
    },
    startWorker,
    stopWorker,
    async stop() {
      await stopWorker();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      closeMail();
      await mail.close();
      users.close();
      await errand.close();
    },
  };
}
