// A watch stream's keepalive: a comment every 15 s while nothing happens, so that proxies keep an idle stream open.
// The interval's timer is mocked; the stream is the web Response fetch-style servers serve.
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { Errand } from "../../src/index.js";
import { silentLogger } from "../../src/01-core/logger.js";
import { KEEPALIVE_MS, watchResponse } from "../../src/11-dashboard/watch-stream.js";

test("an idle watch stream sends a comment every 15 s, and nothing else", async () => {
  const errand = new Errand({
    database: "memory:",
    logger: silentLogger,
    watchSecret: "a-watch-secret-of-at-least-32-characters",
  });
  const job = await errand.task("t", () => {}).enqueue({});
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    const res = await watchResponse(errand, "job", job.id, job.watchToken(), null);
    const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    const next = async () => decoder.decode((await reader.read()).value);
    assert.equal(await next(), "retry: 1000\n\n");
    assert.match(await next(), /^id: 0\.ready\.-\nevent: state\ndata: \{"id":"1","state":"ready","attempt":0\}\n\n$/);
    assert.equal(KEEPALIVE_MS, 15_000);
    mock.timers.tick(KEEPALIVE_MS);
    assert.equal(await next(), ": keepalive\n\n");
    mock.timers.tick(KEEPALIVE_MS);
    assert.equal(await next(), ": keepalive\n\n");
    await reader.cancel();
  } finally {
    mock.timers.reset();
    await errand.close();
  }
});
