// Counts the statements this process sends to its database, by wrapping the drivers: every node-postgres
// Client#query (a round trip: BEGIN and COMMIT count) and every better-sqlite3 statement run, get, all, iterate,
// exec and pragma. Import it before errand opens a database.
import Database from "better-sqlite3";
import pg from "pg";

export const statements = { count: 0 };

function wrap(proto, name) {
  const original = proto[name];
  proto[name] = function (...args) {
    statements.count++;
    return original.apply(this, args);
  };
}

wrap(pg.Client.prototype, "query");
const probe = new Database(":memory:");
const statementProto = Object.getPrototypeOf(probe.prepare("SELECT 1"));
for (const name of ["run", "get", "all", "iterate"]) wrap(statementProto, name);
for (const name of ["exec", "pragma"]) wrap(Database.prototype, name);
probe.close();
