// The PostgreSQL server the bench measures on (ERRAND_BENCH_POSTGRES_URL, default the local one), and the few
// driver-level calls its modules share.
import pg from "pg";

export const SERVER = process.env.ERRAND_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** The URL of database `name` on the server. */
export function urlOf(name) {
  const u = new URL(SERVER);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs `fn` with a client connected to `url`, and ends it. */
export async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One statement on the server's own database (CREATE DATABASE, DROP DATABASE). */
export function admin(sql) {
  return withClient(SERVER, (client) => client.query(sql));
}
