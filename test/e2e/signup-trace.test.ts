// `ERRAND_TRACE=console npm start`: the demo prints its spans, and one signup's request, enqueue and the worker's
// attempt (printed by another process) are one trace.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { it } from "node:test";
import { waitFor } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

interface Line {
  name: string;
  trace: string;
  span: string;
  parent: string;
  job?: string;
}

function spansIn(out: string): Line[] {
  const found: Line[] = [];
  for (const m of out.matchAll(/\[trace\] (.+?) trace=(\w+) span=(\w+) parent=(\w+) [\d.]+ ms(?: job=(\d+))?/g)) {
    found.push({ name: m[1]!, trace: m[2]!, span: m[3]!, parent: m[4]!, ...(m[5] ? { job: m[5] } : {}) });
  }
  return found;
}

it("ERRAND_TRACE=console prints a signup's request, enqueue and attempt as one trace", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/signup/main.ts"], {
    env: {
      ...process.env,
      SIGNUP_DATA_DIR: tempDir("errand-trace-"),
      SIGNUP_PORT: "0",
      SIGNUP_SMTP_PORT: "0",
      SIGNUP_SMTP_DELAY_MS: "0",
      ERRAND_TRACE: "console",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const url = await waitFor(
      "the demo's URL",
      () => /sign up:\s+(http:\/\/\S+?)\/\s/.exec(out)?.[1],
      20_000,
      () => out,
    );
    const signup = await fetch(`${url}/signup/errand`, {
      method: "POST",
      body: new URLSearchParams({ name: "Ann", email: "ann@example.com" }),
    });
    assert.equal(signup.status, 200);
    const jobId = /job (\d+)/.exec(await signup.text())![1];
    const attempt = await waitFor(
      "the worker's attempt span",
      () => spansIn(out).find((s) => s.name === "process email"),
      20_000,
      () => out,
    );

    const spans = spansIn(out);
    const request = spans.find((s) => s.name === "POST /signup/errand")!;
    const send = spans.find((s) => s.name === "send email")!;
    assert.ok(request && send, out);
    assert.equal(request.parent, "none");
    assert.equal(send.trace, request.trace);
    assert.equal(send.parent, request.span);
    assert.equal(send.job, jobId);
    assert.equal(attempt.trace, request.trace, "the worker process continued the request's trace");
    assert.equal(attempt.parent, send.span);
    assert.equal(attempt.job, jobId);
    assert.match(out, /worker: \[trace\] process email/, "printed by the worker process");
  } finally {
    child.kill("SIGINT");
  }
  assert.equal(await exited, 0, out);
});
