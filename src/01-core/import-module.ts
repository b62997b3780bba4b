import { extname } from "node:path";
import { pathToFileURL } from "node:url";

const TYPESCRIPT_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx"]);

/** Once per thread: hooks registered in one thread do not reach another. */
let isTsxRegistered = false;

/**
 * Imports the user's module (the file that creates the Errand and defines its tasks), letting Node load TypeScript
 * through tsx when it is a .ts file. The CommonJS hooks matter too: outside a "type": "module" package a .ts file is
 * loaded as CommonJS, which the ESM hooks alone never see.
 */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT_EXTENSIONS.has(extname(file)) && !isTsxRegistered) {
    const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
    cjs.register();
    esm.register();
    isTsxRegistered = true;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}
