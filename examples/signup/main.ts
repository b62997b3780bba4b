// `npm start`: the signup demo on the embedded default (one SQLite file): web app, SMTP server and a worker.
import { config } from "./config.js";
import { startDemo, type Demo } from "./demo.js";

let demo: Demo;
try {
  demo = await startDemo({ worker: config.worker, log: (line) => console.log(line) });
} catch (error) {
  const e = error as NodeJS.ErrnoException & { port?: number };
  if (e.code !== "EADDRINUSE") throw error;
  console.error(
    `port ${e.port} is already in use (by another copy of this demo?). Stop it, or choose other ports: SIGNUP_PORT=3001 SIGNUP_SMTP_PORT=2526 npm start`,
  );
  process.exit(1);
}
console.log(`errand signup demo (data in ${config.dataDir})

  sign up:          ${demo.url}/
  received emails:  ${demo.url}/emails
  thumbnails:       ${demo.url}/images
  errand dashboard: ${demo.url}/errand/
  SMTP server:      127.0.0.1:${demo.mail.port}, accepts each mail after ${config.smtpDelayMs} ms
  worker:           ${demo.worker ? `pid ${demo.worker.pid}, running examples/signup/tasks.ts` : "none (SIGNUP_WORKER=0): jobs wait for one"}

Try both signup buttons and compare how long each page takes. Inspect the jobs with
  ERRAND_DATABASE_URL=sqlite:${config.dataDir}/signup.db npm run errand -- status
Ctrl-C stops everything.`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log("\nstopping: the worker finishes what it runs, then the servers close");
    demo.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
