// `errand dashboard` and startDashboard(): the dashboard on a server of its own, on loopback unless it has auth.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Errand } from "../10-client/errand.js";
import { InvalidArgsError } from "../01-core/errors.js";
import { createDashboard, type DashboardOptions } from "./handler.js";
import { hasAuth } from "./security.js";

export interface StartDashboardOptions extends DashboardOptions {
  /** Default 127.0.0.1. Any other interface needs `auth`. */
  host?: string;
  /** Default 4000; 0 picks a free port. */
  port?: number;
}

export interface RunningDashboard {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

export function refusalWithoutAuth(host: string): string {
  return (
    `refusing to serve the dashboard on ${host} without authentication: anyone who can reach it could read job args ` +
    `and retry, cancel or delete jobs. Give it a token (--token, or ERRAND_DASHBOARD_TOKEN; auth: { token } in code) ` +
    `or basic auth (--basic-auth user:password), or keep it on 127.0.0.1 and reach it through an SSH tunnel.`
  );
}

export async function startDashboard(errand: Errand, options: StartDashboardOptions = {}): Promise<RunningDashboard> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host) && !hasAuth(options.auth)) {
    throw new InvalidArgsError(refusalWithoutAuth(host));
  }
  const handle = createDashboard(errand, options);
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 4000, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}${(options.basePath ?? "").replace(/\/+$/, "")}/`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
