// Odd request paths get an answer, never take the dashboard down.
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { output, sandbox, startCli, TASKS, waitFor } from "../helpers/cli.js";

/** A GET with the path sent exactly as given (fetch would normalise it). */
function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end();
  });
}

test("paths such as // or //host/x are answered, and the dashboard keeps running", async () => {
  const box = sandbox();
  const dashboard = startCli(["dashboard", TASKS, "--port", "0"], box.env);
  const line = await waitFor(
    "the start line",
    () => /dashboard on http:\/\/127\.0\.0\.1:(\d+)/.exec(dashboard.stderr),
    15_000,
    () => output(dashboard),
  );
  const port = Number(line[1]);
  for (const path of ["//", "//evil.example/jobs", "///", "//:x"]) {
    assert.equal(await get(port, path), 404, path);
  }
  assert.equal(await get(port, "/"), 200, output(dashboard));
  assert.equal(dashboard.hasExited, false, output(dashboard));
  await dashboard.kill("SIGTERM");
});
