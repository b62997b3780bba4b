// Drops test databases in the background, after the test file that made them has exited: DROP DATABASE forces a
// checkpoint on PostgreSQL 15 (about a second each on a busy machine), which the file would otherwise wait for.
// Also drops those of test processes that are gone without dropping theirs (killed): their names hold their pid.
//   node drop-databases.mjs <server url> <name>...
import pg from "pg";

const [url, ...names] = process.argv.slice(2);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
};
const client = new pg.Client({ connectionString: url });
client.on("error", () => {});
await client.connect();
const { rows } = await client.query("SELECT datname FROM pg_database WHERE datname ~ '^errand_(test|tmpl)_'");
const stale = rows
  .map((r) => r.datname)
  .filter((name) => {
    const pid = Number(/_(\d+)(_\d+)?$/.exec(name)?.[1]);
    return Number.isInteger(pid) && pid > 0 && !alive(pid) && !names.includes(name);
  });
for (const name of [...names, ...stale]) {
  // The file's last sessions end as its process exits: wait for them (2 s at most), then drop by force.
  for (let i = 0; i < 40; i++) {
    const { rows: n } = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    if (n[0].n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
}
await client.end();
