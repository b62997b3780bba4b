// errand/http: the dashboard, the JSON API and watch streams as a web-standard handler, (Request) => Response, for
// Next.js route handlers, Hono, Bun and Deno; nodeListener() adapts it to node:http, Express and Fastify.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Errand } from "./10-client/errand.js";
import { sendResponse, toRequest } from "./11-dashboard/node-bridge.js";
import type { HttpAuth } from "./11-dashboard/security.js";
import { createWebDashboard, type WebDashboardOptions } from "./11-dashboard/web-handler.js";

export type { HttpAuth } from "./11-dashboard/security.js";

export interface HandlerOptions extends Omit<WebDashboardOptions, "auth"> {
  /**
   * Who may use the dashboard and the API (watch streams need only their token): a token, basic auth, or your own
   * `check(request)`. Without it, only requests from this machine are served, which the handler can tell only when
   * the server passes the client's address (the handler's second argument; nodeListener does).
   */
  auth?: HttpAuth;
}

/** What the server knows of the request's connection. */
export interface RequestInfo {
  /** The client's IP address: Hono's getConnInfo(c).remote.address, Bun's server.requestIP(req)?.address, Deno's info.remoteAddr.hostname. */
  remoteAddress?: string | undefined;
}

export type FetchHandler = (request: Request, info?: RequestInfo) => Promise<Response>;

/** errand's dashboard, JSON API and watch streams under `basePath`, as a fetch handler. */
export function createHandler(errand: Errand, options: HandlerOptions = {}): FetchHandler {
  const handle = createWebDashboard(errand, options);
  const check = options.auth?.check;
  return (request, info) =>
    handle(request, {
      remoteAddress: info?.remoteAddress,
      ...(typeof check === "function" ? { check: () => check(request) } : {}),
    });
}

/** `handler` as a node:http listener: `createServer(nodeListener(h))`, `app.use("/errand", nodeListener(h))`. */
export function nodeListener(handler: FetchHandler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    await sendResponse(res, await handler(toRequest(req), { remoteAddress: req.socket.remoteAddress }));
  };
}
