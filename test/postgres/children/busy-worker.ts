// A library worker with many slots and small outcome batches, for the overload test: the fixture tasks, on
// ERRAND_DATABASE_URL, with concurrency, lease and maxBatch from ERRAND_TEST_WORKER (JSON).
import { Errand, type WorkerOptions } from "errand";
import { defineTasks } from "../../fixtures/define-tasks.js";

const errand = new Errand({ database: process.env.ERRAND_DATABASE_URL! });
defineTasks(errand);
const worker = await errand.work(JSON.parse(process.env.ERRAND_TEST_WORKER!) as WorkerOptions);
process.on("SIGTERM", () => {
  void worker
    .stop()
    .then(() => errand.close())
    .then(() => process.exit(0));
});
