// `npm start`: starts a worker process, enqueues jobs the way a web handler would, and watches them run.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { digestReport, errand, makeThumbnail, sendWelcomeEmail } from "./tasks.js";

const cli = fileURLToPath(new URL("../../dist/12-cli/main.js", import.meta.url));
const tasks = fileURLToPath(new URL("./tasks.ts", import.meta.url));
console.log(`database: ${errand.database}\n`);

console.log("1. Enqueue: what a request handler pays");
const started = performance.now();
const emails = [];
for (const name of ["ada", "grace", "linus", "margaret", "ken"]) {
  const t0 = performance.now();
  emails.push(await sendWelcomeEmail.enqueue({ to: `${name}@example.com` }));
  const note = emails.length === 1 ? " (the first call also opens the database)" : "";
  console.log(
    `   enqueued send-welcome-email to ${name}@example.com in ${Math.round((performance.now() - t0) * 1000)} µs${note}`,
  );
}
const thumbnail = await makeThumbnail.enqueue({ image: "cat.jpg" });
const report = await digestReport.enqueue({ rows: 500_000 });
console.log(
  `   7 jobs stored in ${(performance.now() - started).toFixed(1)} ms; sending the emails inline would take ~1500 ms.\n`,
);

console.log(`2. A worker process runs them: errand worker ${tasks}`);
const worker = spawn(process.execPath, [cli, "worker", tasks, "--concurrency", "5"], {
  stdio: ["ignore", "inherit", "inherit"],
});
const stop = () => worker.kill("SIGTERM");
process.on("SIGINT", stop);

try {
  for (const job of emails) {
    const result = await job.result({ timeout: "30s" });
    console.log(`   job ${job.id} done: ${JSON.stringify(result)}`);
  }
  const thumb = await thumbnail.result({ timeout: "30s" });
  const record = await thumbnail.get();
  console.log(
    `   job ${thumbnail.id} done after ${record.attempt} attempts (first error: "${record.errors[0]?.message}"): ${JSON.stringify(thumb)}\n`,
  );
  const digest = await report.result({ timeout: "60s" });
  console.log(
    `   job ${report.id} (CPU-bound, run in a worker thread: isolate: "thread") done: ${JSON.stringify(digest)}\n`,
  );
  console.log(
    "3. Inspect them any time: npm run errand -- status | jobs | show <id>   (npx errand … in your own project)",
  );
} finally {
  stop();
  await new Promise((resolve) => worker.once("exit", resolve));
  await errand.close();
}
