import { isLoopback, refusalWithoutAuth, startDashboard } from "../../11-dashboard/server.js";
import type { DashboardAuth } from "../../11-dashboard/security.js";
import { EXIT, intFlag, isErrandError, stringFlag, UsageError, type Command } from "../args.js";
import { loadApp } from "../load-app.js";
import { note } from "../output.js";

const HELP = `Usage: errand dashboard <module> [options]

Serves the web dashboard of the Errand that <module> exports: job counts, throughput, workers, every job
with its args, errors and result, and actions (retry, cancel, delete, run now). Also /metrics for Prometheus.

Options:
  --port <n>                 Port (default 4000)
  --host <address>           Interface (default 127.0.0.1). Any other needs --token or --basic-auth.
  --token <secret>           Require this token (open the dashboard once with ?token=<secret>, or send
                             Authorization: Bearer <secret>). Default: ERRAND_DASHBOARD_TOKEN.
  --basic-auth <user:pass>   Require HTTP basic auth
  -h, --help                 Show this help

Ctrl+C stops it.

Examples:
  npx errand dashboard ./src/tasks.ts
  ERRAND_DASHBOARD_TOKEN=$(openssl rand -hex 16) npx errand dashboard ./dist/tasks.js --host 0.0.0.0 --port 8080`;

export const dashboard: Command = {
  name: "dashboard",
  summary: "Serve the web dashboard and /metrics",
  help: HELP,
  options: {
    port: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
    "basic-auth": { type: "string" },
  },
  positionals: ["module"],
  async run({ values, positionals }) {
    const port = intFlag(values, "port", "errand dashboard", 0) ?? 4000;
    const host = stringFlag(values, "host") ?? "127.0.0.1";
    const auth: DashboardAuth = {};
    const token = stringFlag(values, "token") ?? process.env.ERRAND_DASHBOARD_TOKEN;
    // An empty token would protect nothing; starting without auth instead would hide the mistake.
    if (token !== undefined && token.trim() === "") {
      const from = stringFlag(values, "token") !== undefined ? "--token" : "ERRAND_DASHBOARD_TOKEN";
      throw new UsageError(
        `errand dashboard: ${from} is empty. Give a secret (e.g. $(openssl rand -hex 16)), or leave ${from} out to serve this machine only, without authentication.`,
      );
    }
    if (token !== undefined) auth.token = token;
    const basic = stringFlag(values, "basic-auth");
    if (basic !== undefined) {
      const at = basic.indexOf(":");
      if (at < 1 || at === basic.length - 1)
        throw new UsageError(`errand dashboard: --basic-auth must be user:password, got ${JSON.stringify(basic)}.`);
      auth.username = basic.slice(0, at);
      auth.password = basic.slice(at + 1);
    }
    // Before loading anything: a remote bind without auth is refused whatever the module holds.
    if (!isLoopback(host) && auth.token === undefined && auth.username === undefined)
      throw new UsageError(`errand dashboard: ${refusalWithoutAuth(host)}`);
    const errand = await loadApp(positionals[0]!);
    let running;
    try {
      running = await startDashboard(errand, { host, port, auth });
    } catch (error) {
      await errand.close();
      if (isErrandError(error) && error.code === "ERRAND_INVALID")
        throw new UsageError(`errand dashboard: ${error.message}`);
      throw error;
    }
    const access = auth.token || auth.username ? "authentication required" : "no authentication: this machine only";
    note(`dashboard on ${running.url} (database ${errand.database}, ${access}). Stop it with Ctrl+C.`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    await running.close();
    await errand.close();
    return EXIT.ok;
  },
};
