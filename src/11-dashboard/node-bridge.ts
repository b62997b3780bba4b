// node:http and fetch's Request/Response: a Node request made a web Request (its body streamed, or the one a framework
// already parsed), and a web Response written back, its body streamed as it comes (a watch stream's events as they
// happen) and cancelled when the client goes away.
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { TEXT_SOURCE, type TextSource } from "./watch-stream.js";

/** `req` as a fetch Request. Its URL keeps the path as the client sent it, on a placeholder origin. */
export function toRequest(req: IncomingMessage): Request {
  // Express strips its mount path from req.url and keeps the full one in originalUrl.
  const full = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  // Appended, not resolved: "//" or "//host/x" would parse as a host (or throw).
  const url = `http://dashboard.invalid${full.startsWith("/") ? "" : "/"}${full}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  return new Request(url, { method, headers, body: bodyOf(req, headers), duplex: "half" } as RequestInit);
}

/** The body to read: the stream itself, or what a framework parsed already (Express's json(), urlencoded()). */
function bodyOf(req: IncomingMessage, headers: Headers): RequestInit["body"] {
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined && parsed !== null) {
    headers.delete("content-length");
    if (typeof parsed === "string" || Buffer.isBuffer(parsed)) return parsed;
    if ((headers.get("content-type") ?? "").includes("json")) return JSON.stringify(parsed);
    return new URLSearchParams(Object.entries(parsed).map(([k, v]): [string, string] => [k, String(v)])).toString();
  }
  if (req.readableEnded) return null;
  return Readable.toWeb(req);
}

export async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, headers);
  const text = (response as { [TEXT_SOURCE]?: TextSource })[TEXT_SOURCE];
  if (text) return writeText(res, text);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const stop = () => void reader.cancel().catch(() => {});
  res.once("close", stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await drained(res);
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off("close", stop);
  }
}

/** A watch stream's messages written as text as they come, until it ends or the client goes away. */
function writeText(res: ServerResponse, source: TextSource): void {
  res.once("close", source.cancel);
  source.start(
    (text) => void (res.destroyed || res.write(text)),
    () => {
      res.off("close", source.cancel);
      res.end();
    },
  );
}

/** The socket took what was written, or the client went away. */
const drained = (res: ServerResponse) => Promise.race([once(res, "drain"), once(res, "close")]);
