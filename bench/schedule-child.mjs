// A worker process for the schedules bench: `node schedule-child.mjs <database> <mode> [n]`.
//   idle:  a worker whose code declares n schedules (mode "idle-code", one task each) or none ("idle"), that
//          measures its own CPU time and the statements it sends over the seconds the parent asks for.
//   burst: a worker that defines no scheduled task (the ticks' jobs stay ready) and enqueues whatever falls due.
import { statements } from "./lib/count-statements.mjs";
import { Errand } from "errand";
import { setTimeout as sleep } from "node:timers/promises";
import { reportFailures } from "./lib/child.mjs";

reportFailures();
const [database, mode, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 0);
const logger = {
  debug() {},
  info() {},
  warn: (message) => console.error(`errand warn: ${message}`),
  error: (message) => console.error(`errand error: ${message}`),
};
const errand = new Errand({ database, logger });
errand.task("other", async () => {});
if (mode === "idle-code") {
  // Never due while measured: 00:00 on the 1st of January.
  for (let i = 0; i < n; i++) errand.task(`yearly-${i}`, async () => {}, { schedule: "0 0 1 1 *" });
}
await errand.work({ concurrency: 10 });

process.on("message", async (message) => {
  if (message.type === "measure") {
    const cpu0 = process.cpuUsage();
    const count0 = statements.count;
    const t0 = performance.now();
    await sleep(message.seconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    process.send({
      type: "measured",
      seconds: (performance.now() - t0) / 1000,
      cpuMs: (cpu.user + cpu.system) / 1000,
      statements: statements.count - count0,
    });
  }
  if (message.type === "stop") {
    await errand.close();
    process.disconnect();
  }
});
process.send({ type: "ready" });
