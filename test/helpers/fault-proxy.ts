// A TCP proxy on loopback between errand and its PostgreSQL server, for injecting network faults in tests:
// reset every connection, delay or hold traffic (a partition that drops packets rather than refusing them),
// or cut one connection right after a given statement has passed through to the server.
import { createServer, Socket, type AddressInfo, type Server } from "node:net";

export type Direction = "up" | "down"; // up: client → server; down: server → client

interface Link {
  id: number;
  client: Socket;
  server: Socket;
  /** Chunks held while the link is blackholed, per direction, released in order on heal. */
  held: { up: Buffer[]; down: Buffer[] };
}

export interface FaultProxy {
  /** A copy of `url` that connects through the proxy. */
  url: string;
  port: number;
  /** Connections open through the proxy now. */
  readonly open: number;
  /** Resets (RST) every open connection. New connections are accepted as usual. */
  resetAll(): void;
  /**
   * Stops forwarding in both directions without closing anything: packets "dropped", as in a partition. New
   * connections hang too. With `drop`, held bytes are discarded on heal and held connections reset (a partition
   * long enough for TCP to give up); without it, they are delivered late (a delay).
   */
  blackhole(): void;
  heal(options?: { drop?: boolean }): void;
  /** Adds latency to every chunk in both directions (0: none). */
  setDelay(ms: number): void;
  /**
   * Calls `action` (default: reset that connection) the first time a chunk sent by the client contains `marker`
   * (e.g. a word of a statement's text, or a prepared statement's name), right after the chunk is forwarded to the
   * server: the server runs the statement, and its answer is lost.
   */
  onClientChunk(marker: string, action?: (link: { reset(): void; hold(): void }) => void): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || 5432);
  const targetHost = target.hostname;
  const links = new Set<Link>();
  let nextId = 0;
  let holding = false;
  let delayMs = 0;
  const triggers: { marker: string; action: (link: { reset(): void; hold(): void }) => void; done: () => void }[] = [];

  const destroy = (link: Link) => {
    links.delete(link);
    link.client.resetAndDestroy();
    link.server.resetAndDestroy();
  };

  const forward = (link: Link, direction: Direction, chunk: Buffer) => {
    const to = direction === "up" ? link.server : link.client;
    if (holding) {
      link.held[direction].push(chunk);
      return;
    }
    if (delayMs > 0) setTimeout(() => to.destroyed || to.write(chunk), delayMs);
    else to.write(chunk);
  };

  const server: Server = createServer((client) => {
    const upstream = new Socket();
    const link: Link = { id: ++nextId, client, server: upstream, held: { up: [], down: [] } };
    links.add(link);
    client.on("error", () => destroy(link));
    upstream.on("error", () => destroy(link));
    client.on("close", () => destroy(link));
    upstream.on("close", () => destroy(link));
    client.on("data", (chunk: Buffer) => {
      forward(link, "up", chunk);
      if (triggers.length === 0) return;
      const text = chunk.toString("latin1");
      for (const t of triggers.splice(0)) {
        if (!text.includes(t.marker)) {
          triggers.push(t);
          continue;
        }
        // Let the forwarded chunk leave before acting on the connection.
        setImmediate(() => {
          t.action({ reset: () => destroy(link), hold: () => link.client.pause() });
          t.done();
        });
      }
    });
    upstream.on("data", (chunk: Buffer) => forward(link, "down", chunk));
    upstream.connect(targetPort, targetHost);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const proxied = new URL(targetUrl);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(port);

  return {
    url: proxied.toString(),
    port,
    get open() {
      return links.size;
    },
    resetAll() {
      for (const link of [...links]) destroy(link);
    },
    blackhole() {
      holding = true;
    },
    heal(options = {}) {
      holding = false;
      for (const link of [...links]) {
        if (options.drop) {
          if (link.held.up.length + link.held.down.length > 0) destroy(link);
          continue;
        }
        for (const chunk of link.held.up.splice(0)) link.server.write(chunk);
        for (const chunk of link.held.down.splice(0)) link.client.write(chunk);
      }
    },
    setDelay(ms) {
      delayMs = ms;
    },
    onClientChunk(marker, action = (link) => link.reset()) {
      return new Promise<void>((done) => triggers.push({ marker, action, done }));
    },
    close() {
      for (const link of [...links]) destroy(link);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
