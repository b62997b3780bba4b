import { EXIT, type Command } from "../args.js";
import { DATABASE_HELP, DATABASE_OPTIONS, withErrand } from "../load-app.js";
import { print, printJson } from "../output.js";

const HELP = `Usage: errand migrate [options]

Creates or upgrades errand's schema in the database. Errand does this on first use unless
created with { migrate: false }; run this at deploy time when it is.

${DATABASE_HELP}
  -h, --help          Show this help`;

export const migrate: Command = {
  name: "migrate",
  summary: "Create or upgrade the database schema",
  help: HELP,
  options: DATABASE_OPTIONS,
  positionals: [],
  async run({ values }) {
    return withErrand(values, async (errand) => {
      await errand.migrate();
      if (values.json === true) printJson({ database: errand.database, upToDate: true });
      else print(`The schema of ${errand.database} is up to date.`);
      return EXIT.ok;
    });
  },
};
