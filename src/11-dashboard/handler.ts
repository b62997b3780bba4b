// The dashboard as a plain node:http request handler: mount it in any server, or run it with startDashboard(). The
// web-standard handler (web-handler.ts) does the work; this adapts node:http's request and response to it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Errand } from "../10-client/errand.js";
import { sendResponse, toRequest } from "./node-bridge.js";
import type { DashboardAuth } from "./security.js";
import { createWebDashboard, type WebDashboardOptions } from "./web-handler.js";

export interface DashboardOptions extends Omit<WebDashboardOptions, "auth"> {
  /**
   * Who may use it; see DashboardAuth. Without it, only clients on this machine (loopback) are served: when your
   * server protects the route itself, say so with `auth: { check: () => true }`.
   */
  auth?: DashboardAuth;
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * A request handler serving errand's dashboard: overview, job list and detail, actions, /metrics, the JSON API and
 * watch streams. It reads and acts on `errand`'s database; mount it under `basePath` in node:http, Express
 * (`app.use("/errand", handler)` with the same basePath), Fastify or Hono (see the README).
 */
export function createDashboard(errand: Errand, options: DashboardOptions = {}): DashboardHandler {
  const handle = createWebDashboard(errand, options);
  const check = options.auth?.check;
  return async (req, res) => {
    const conn = {
      remoteAddress: req.socket.remoteAddress,
      ...(typeof check === "function" ? { check: () => check(req) } : {}),
    };
    await sendResponse(res, await handle(toRequest(req), conn));
  };
}
