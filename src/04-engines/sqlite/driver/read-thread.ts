import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Row } from "../../../03-storage-logic/rows.js";

// The thread's whole program: CommonJS, so that it runs the same from the published JavaScript and from sources.
const PROGRAM = /* js */ `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
db.pragma("query_only = ON");
const statements = new Map();
parentPort.on("message", ({ id, sql, params, one }) => {
  try {
    let s = statements.get(sql);
    if (s === undefined) statements.set(sql, (s = db.prepare(sql)));
    parentPort.postMessage({ id, rows: one ? s.get(...params) : s.all(...params) });
  } catch (error) {
    parentPort.postMessage({ id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

interface Pending {
  resolve: (rows: Row[] | Row | undefined) => void;
  reject: (error: Error) => void;
}

/**
 * Reads of the SQLite file on a connection of their own in a worker thread, so that a query that must read many
 * rows (a deep page, a filter no index serves, an hour of finished jobs) never holds the event loop of the process
 * that asked: a web server's requests go on meanwhile. WAL lets it read while the main connection writes, and it
 * sees every commit made before the read was asked. The thread starts on the first read and keeps the process
 * alive only while a read is pending.
 */
export class ReadThread {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly file: string) {}

  all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return this.send(sql, params, false) as Promise<Row[]>;
  }

  get(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return this.send(sql, params, true) as Promise<Row | undefined>;
  }

  private send(sql: string, params: unknown[], one: boolean): Promise<Row[] | Row | undefined> {
    const worker = this.start();
    const id = this.nextId++;
    if (this.pending.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, sql, params, one });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(PROGRAM, { eval: true, workerData: { file: this.file, driver } });
    worker.on("message", (m: { id: number; rows?: Row[] | Row; error?: { message: string; code?: string } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve(m.rows);
    });
    // A thread that dies (it should not) fails what it held; the next read starts another.
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the SQLite read thread exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error("errand was closed while a read was pending"));
    this.pending.clear();
    if (worker) await worker.terminate();
  }
}
