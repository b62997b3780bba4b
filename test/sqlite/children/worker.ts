import { errand } from "./app.js";

const worker = await errand.work({ concurrency: 4 });
process.on("SIGTERM", () => {
  void worker
    .stop()
    .then(() => errand.close())
    .then(() => process.exit(0));
});
process.send?.("ready");
