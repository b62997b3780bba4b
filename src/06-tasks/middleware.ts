// Middleware (errand.use()): enqueue hooks around task.enqueue() (run in enqueue-hooks.ts) and run hooks around each
// attempt's handler (run here, by the worker's Execution, wherever the handler runs: on the worker's main thread,
// or in an isolated handler's thread or process, with the hooks its tasks module registered).
import { InvalidArgsError } from "../01-core/errors.js";
import { nearest } from "../01-core/nearest.js";
import type { Job } from "../05-handles/job.js";
import type { EnqueueCall, EnqueueHook, EnqueueNext } from "./options.js";
import type { JobContext } from "./task.js";

/** A run hook's next(): the hooks after it, then the handler; resolves to the handler's result, rejects with its error. */
export type RunNext = () => Promise<unknown>;

/**
 * What errand.use() takes: either hook or both. Each hook calls next() once, or throws. Hooks run in order of
 * registration, the first outermost.
 */
export interface Middleware {
  /**
   * Around task.enqueue(), each item of enqueueMany() and enqueueSync(): `job` is the call ({ task, args, options },
   * args not validated yet), which it may change, or replace by giving next() another. next() validates and stores
   * the job, and resolves to the stored Job; throw (before next()) to refuse the job: nothing is stored, and the
   * enqueue rejects with that error. Return nothing, or a Job: what the caller gets. enqueueSync() and enqueues in a
   * better-sqlite3 transaction need next() called before the hook's first await.
   */
  enqueue?(job: EnqueueCall, next: EnqueueNext): Job | void | Promise<Job | void>;
  /**
   * Around each attempt's handler, where the handler runs, with its `ctx`: code before next(), then next() (the
   * handler; it rejects with what the handler threw), then code after. What it returns is the job's result
   * (undefined: next()'s); what it throws fails the attempt, retried as a handler's error would be.
   */
  run?(ctx: JobContext, next: RunNext): unknown;
}

/** A run hook as errand.use() keeps it: its function, its middleware (`this`), and its place (1 for the first). */
export interface RunHook {
  readonly fn: (ctx: JobContext, next: RunNext) => unknown;
  readonly self: object;
  readonly at: number;
}

const HOOKS = ["enqueue", "run"] as const;

/** The middleware of one Errand, in order of registration, and their hooks: lists that only grow. */
export class Middlewares {
  readonly all: Middleware[] = [];
  readonly enqueue: EnqueueHook[] = [];
  readonly run: RunHook[] = [];

  /** errand.use(): checks the middleware and adds its hooks. */
  use(middleware: unknown): void {
    const where = "errand.use()";
    if (typeof middleware !== "object" || middleware === null || Array.isArray(middleware)) {
      throw new InvalidArgsError(
        `${where}: expected a middleware object { enqueue?(job, next), run?(ctx, next) }, got ${
          Array.isArray(middleware) ? "an array" : middleware === null ? "null" : typeof middleware
        }.`,
      );
    }
    const m = middleware as Record<string, unknown>;
    // An object literal names only hooks; a class instance may hold fields of its own beside its methods.
    const proto: unknown = Object.getPrototypeOf(m);
    if (proto === Object.prototype || proto === null) {
      for (const key of Object.keys(m)) {
        if ((HOOKS as readonly string[]).includes(key)) continue;
        const guess = nearest(key, HOOKS);
        throw new InvalidArgsError(
          `${where}: unknown key \`${key}\`.${guess === undefined ? "" : ` Did you mean \`${guess}\`?`} A middleware has enqueue(job, next) and run(ctx, next).`,
        );
      }
    }
    for (const hook of HOOKS) {
      const fn = m[hook];
      if (fn !== undefined && typeof fn !== "function") {
        throw new InvalidArgsError(
          `${where}: ${hook} must be a function ${hook === "enqueue" ? "(job, next) => next(job)" : "(ctx, next) => next()"}, got ${
            fn === null ? "null" : typeof fn
          }.`,
        );
      }
    }
    if (m.enqueue === undefined && m.run === undefined) {
      throw new InvalidArgsError(
        `${where}: the middleware has no hook; give it enqueue(job, next), run(ctx, next), or both.`,
      );
    }
    const at = this.all.length + 1;
    this.all.push(middleware);
    if (typeof m.enqueue === "function") this.enqueue.push({ fn: m.enqueue as EnqueueHook["fn"], self: m, at });
    if (typeof m.run === "function") this.run.push({ fn: m.run as RunHook["fn"], self: m, at });
  }
}

/**
 * The run hooks of `list` (errand.middleware(), a list that only grows), read again when it has grown: for an
 * isolated handler's executor, which has the Errand its tasks module exports.
 */
export function runHooksOf(list: () => readonly Middleware[]): () => readonly RunHook[] {
  const hooks: RunHook[] = [];
  let seen = 0;
  return () => {
    const all = list();
    for (; seen < all.length; seen++) {
      const m = all[seen]!;
      const run: unknown = (m as { run?: unknown }).run;
      if (typeof run === "function") hooks.push({ fn: run as RunHook["fn"], self: m, at: seen + 1 });
    }
    return hooks;
  };
}

/**
 * Runs `handler` (the attempt's schema check and handler) inside `hooks`, the first outermost. Never throws: a hook's
 * error, or the handler's, rejects. Hooks registered meanwhile join the next attempt.
 */
export function runThrough(hooks: readonly RunHook[], ctx: JobContext, handler: () => unknown): Promise<unknown> {
  const count = hooks.length;
  const dispatch = (at: number): Promise<unknown> => {
    if (at === count) {
      // A hook that held the attempt past its end (a timeout, a lost lease): the handler does not start.
      if (ctx.signal.aborted) return Promise.reject(ctx.signal.reason);
      try {
        return Promise.resolve(handler());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const hook = hooks[at]!;
    const name = `run middleware #${hook.at} (errand.use()) of job ${ctx.id} (${ctx.task})`;
    let called = false;
    let returned = false;
    let inner: Promise<unknown> | null = null;
    const next: RunNext = () => {
      if (returned) {
        // The attempt has its outcome already: a hook that drops this does not crash its worker.
        const late = Promise.reject(new InvalidArgsError(`${name} called next() after it had returned.`));
        late.catch(() => {});
        return late;
      }
      if (called) {
        return Promise.reject(new InvalidArgsError(`${name} called next() twice; the handler runs once an attempt.`));
      }
      called = true;
      inner = dispatch(at + 1);
      inner.catch(() => {}); // a hook that drops it has its own outcome; the handler's error is not unhandled
      return inner;
    };
    let out: unknown;
    try {
      out = hook.fn.call(hook.self, ctx, next);
    } catch (error) {
      returned = true;
      return Promise.reject(error);
    }
    return Promise.resolve(out).then(
      (value) => {
        returned = true;
        if (!called) {
          throw new InvalidArgsError(
            `${name} returned without calling next(), so the handler did not run: a run hook calls next() once, ` +
              "or throws (PermanentError to fail the job without retries).",
          );
        }
        return value === undefined ? inner : value;
      },
      (error: unknown) => {
        returned = true;
        throw error;
      },
    );
  };
  return dispatch(0);
}
