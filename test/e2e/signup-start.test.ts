// `npm start`'s program as a user runs it: it prints its URLs, serves, and stops cleanly on Ctrl-C (SIGINT).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { it } from "node:test";
import { tempDir } from "../helpers/tmp.js";

it("starts the web app, SMTP server and worker, prints the URLs, and exits 0 on SIGINT with the worker stopped", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/signup/main.ts"], {
    env: {
      ...process.env,
      SIGNUP_DATA_DIR: tempDir("errand-start-"),
      SIGNUP_PORT: "0",
      SIGNUP_SMTP_PORT: "0",
      ERRAND_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s:\n${out}`)), 20_000);
    child.stdout.on("data", () => {
      const m = /sign up:\s+(http:\/\/\S+?)\/\s/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  assert.match(out, /received emails:\s+http:\/\//);
  assert.match(out, /worker:\s+pid (\d+)/);
  const workerPid = Number(/worker:\s+pid (\d+)/.exec(out)![1]);
  const signup = await fetch(`${url}/signup/errand`, {
    method: "POST",
    body: new URLSearchParams({ name: "Ann", email: "ann@example.com" }),
  });
  assert.equal(signup.status, 200);
  child.kill("SIGINT");
  assert.equal(await exited, 0, out);
  assert.throws(() => process.kill(workerPid, 0), /ESRCH/, "the worker process is gone");
  assert.match(out, /stopping/);
});
