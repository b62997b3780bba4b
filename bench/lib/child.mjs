// Runs a bench script in its own Node process and talks to it over IPC.
import { fork } from "node:child_process";

/**
 * Starts `script` with `args`. `next(type)` resolves with the child's next message of that type (messages are
 * queued until asked for), and rejects if the child exits first; `done()` waits for the child to exit cleanly.
 */
export function startChild(script, args = [], { execArgv, env } = {}) {
  const child = fork(script, args.map(String), {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    ...(execArgv ? { execArgv } : {}),
    ...(env ? { env } : {}),
  });
  const inbox = [];
  const waiters = [];
  let exited = null;

  const deliver = () => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i];
      const at = inbox.findIndex((m) => m.type === w.type);
      if (at >= 0) {
        waiters.splice(i--, 1);
        w.resolve(inbox.splice(at, 1)[0]);
      } else if (exited) {
        waiters.splice(i--, 1);
        w.reject(new Error(`${script} exited (${exited}) before sending "${w.type}"`));
      }
    }
  };
  child.on("message", (message) => {
    if (message?.type === "error") {
      exited ??= `error: ${message.message}`;
    } else inbox.push(message);
    deliver();
  });
  const exit = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited ??= signal ? `signal ${signal}` : `code ${code}`;
      deliver();
      resolve(exited);
    });
  });

  return {
    child,
    next(type) {
      return new Promise((resolve, reject) => {
        waiters.push({ type, resolve, reject });
        deliver();
      });
    },
    send(message) {
      child.send(message);
    },
    async done() {
      const how = await exit;
      if (how !== "code 0") throw new Error(`${script} ended with ${how}`);
    },
    kill() {
      if (!exited) child.kill();
    },
  };
}

/** In a child: reports an uncaught failure to the parent, then exits non-zero. */
export function reportFailures() {
  const fail = (error) => {
    console.error(error);
    process.send?.({ type: "error", message: String(error?.stack ?? error) });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
}

/** The wall clock in ms with sub-µs resolution, comparable across processes on one machine. */
export const sharedNow = () => performance.timeOrigin + performance.now();

/** In an idle pickup worker: answers the parent's clock pings, runs `stop` at "stop", and says it is ready. */
export function servePickup(stop) {
  process.on("message", async (message) => {
    if (message.type === "ping") process.send({ type: "pong", t: sharedNow() });
    if (message.type === "stop") {
      await stop();
      process.disconnect();
    }
  });
  process.send({ type: "ready" });
}

/** Runs `script` to completion and resolves with its one message of `type` (the drains' pattern). */
export async function resultOfChild(script, args, type = "drained", options = {}) {
  const child = startChild(script, args, options);
  try {
    const result = await child.next(type);
    await child.done();
    return result;
  } finally {
    child.kill();
  }
}

/**
 * In a drain child: polls `count()` (jobs stored as done) until it reaches n, after all handlers ran; resolves with
 * the time just before the poll that showed n.
 */
export async function whenStored(n, count, everyMs = 1) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    const at = performance.now();
    if ((await count()) >= n) return at;
  }
}
