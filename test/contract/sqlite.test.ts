import { join } from "node:path";
import { SqliteBackend } from "../../src/backends/sqlite/backend.js";
import { tempDir } from "../helpers/tmp.js";
import { runBackendContract } from "./contract.js";

const dir = tempDir();
let n = 0;
runBackendContract("sqlite file", async () => new SqliteBackend({ file: join(dir, `c${++n}.db`), durability: "normal" }));
runBackendContract("sqlite memory", async () => new SqliteBackend({ file: ":memory:", durability: "normal" }));
