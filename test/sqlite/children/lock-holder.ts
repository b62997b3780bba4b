// Holds SQLite's write lock (BEGIN IMMEDIATE) on argv[2] for argv[3] ms, as another process's long write would.
import Database from "better-sqlite3";

const db = new Database(process.argv[2]);
const holdMs = Number(process.argv[3]);
db.exec("BEGIN IMMEDIATE");
process.stdout.write("locked\n");
setTimeout(() => {
  db.exec("COMMIT");
  db.close();
  process.stdout.write("released\n");
}, holdMs);
