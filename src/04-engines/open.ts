import type { Backend } from "../02-storage/backend.js";
import { chooseEngine, type OpenOptions } from "./engine-choice.js";
import { PostgresBackend } from "./postgres/backend.js";
import { SqliteBackend } from "./sqlite/backend.js";

export { DEFAULT_DATABASE, sqliteFile, type OpenOptions, type OpenSpec } from "./engine-choice.js";

/** Opens the database a URL names (see chooseEngine), both engines loaded: the client's enqueueSync needs it now. */
export function openBackend(url: string, options: OpenOptions): Backend {
  const choice = chooseEngine(url, options);
  return choice.engine === "sqlite" ? new SqliteBackend(choice.options) : new PostgresBackend(choice.options);
}
