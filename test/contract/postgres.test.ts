import { after } from "node:test";
import { PostgresBackend } from "../../src/backends/postgres/backend.js";
import { silentLogger } from "../../src/core/logger.js";
import { dropTemplates, freshPostgresDatabase } from "../helpers/postgres.js";
import { runBackendContract } from "./contract.js";

const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of drops) await drop();
  await dropTemplates();
});

const backendOn = (url: string) => new PostgresBackend({ url, schema: "errand", poolSize: 4, listen: true, logger: silentLogger });

runBackendContract("postgres", async () => {
  const db = await freshPostgresDatabase({
    templateKey: "errand-contract",
    template: async (url) => {
      const b = backendOn(url);
      await b.migrate();
      await b.close();
    },
  });
  drops.push(db.drop);
  return backendOn(db.url);
}, { serverClock: true });
