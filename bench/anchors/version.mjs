import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** The installed version of a package the bench measures, for the report. */
export function versionOf(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return "?";
  }
}
