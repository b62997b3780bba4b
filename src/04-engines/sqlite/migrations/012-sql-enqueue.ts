// Released migrations are never edited: a change goes in a new numbered file.
// now_ms: SQLite's clock in integer milliseconds since the epoch, as the rest of errand's times.
const NOW_MS = `CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`;
// A whole number, whether the client bound it as an integer or as a real (better-sqlite3 binds JavaScript numbers so).
const whole = (v: string) => `(typeof(${v}) IN ('integer', 'real') AND ${v} = CAST(${v} AS INTEGER))`;
// A time column: Unix milliseconds, or ISO-8601 text; NULL when it is not a time.
const timeMs = (v: string) =>
  `CASE WHEN ${whole(v)} THEN CAST(${v} AS INTEGER) WHEN typeof(${v}) = 'text' THEN CAST(round((julianday(${v}) - 2440587.5) * 86400000) AS INTEGER) END`;
const refuse = (when: string, message: string) =>
  `  SELECT RAISE(ABORT, '${message.replaceAll("'", "''")} Nothing was stored.') WHERE ${when};`;

export default /* sql */ `
-- Task definitions, as the workers that define them stored them at their start: the defaults that an enqueue from
-- SQL takes. needs_code: its jobs need the task's code before they may run (a concurrency key computed from their
-- args), so a worker that defines it prepares them. (A schema needs no such step: a worker checks a job's args
-- against it before the handler, and a job whose args fail it fails for good.)
CREATE TABLE errand_tasks (
  name              TEXT    PRIMARY KEY,
  queue             TEXT    NOT NULL,
  priority          INTEGER NOT NULL,
  max_attempts      INTEGER NOT NULL,
  delay_ms          INTEGER NOT NULL,
  expires_in_ms     INTEGER,
  needs_code        INTEGER NOT NULL,
  max_payload_bytes INTEGER NOT NULL,
  defined_at        INTEGER NOT NULL
);

-- Jobs enqueued from SQL that wait for a worker defining their task to prepare them (its defaults, its concurrency
-- key, key modes): they join the jobs then.
CREATE TABLE errand_intake (
  id         INTEGER PRIMARY KEY,
  task       TEXT    NOT NULL,
  args       TEXT    NOT NULL,
  options    TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX errand_intake_task ON errand_intake (task, id);

-- Enqueue from any SQLite client: INSERT INTO errand_enqueue (task, args, ...) VALUES (...). args: JSON text;
-- run_at and expires_at: ISO-8601 text or Unix milliseconds; key_mode: 'pending', 'forever' or '{"for": ms}'.
CREATE VIEW errand_enqueue AS
  SELECT NULL AS task, NULL AS args, NULL AS queue, NULL AS run_at, NULL AS priority, NULL AS max_attempts,
         NULL AS key, NULL AS key_mode, NULL AS expires_at
  WHERE 0;

CREATE TRIGGER errand_enqueue_insert INSTEAD OF INSERT ON errand_enqueue BEGIN
${refuse("NEW.task IS NULL OR typeof(NEW.task) <> 'text' OR trim(NEW.task) = ''", "errand_enqueue: task must name a task.")}
${refuse(
  "NEW.args IS NULL OR typeof(NEW.args) <> 'text' OR NOT json_valid(NEW.args) OR json_type(NEW.args) NOT IN ('object', 'null')",
  "errand_enqueue: args must be a JSON object as text (or 'null' for a task that takes none).",
)}
${refuse(
  "instr(NEW.args, '\\u0000') > 0",
  "errand_enqueue: args hold a NUL character (\\u0000), which errand does not store: remove it.",
)}
${refuse(
  "length(CAST(NEW.args AS BLOB)) > coalesce((SELECT max_payload_bytes FROM errand_tasks WHERE name = NEW.task), 1000000)",
  "errand_enqueue: args are over the payload limit (1,000,000 bytes unless the task's Errand sets maxPayloadBytes): store large data elsewhere and pass its id.",
)}
${refuse("NEW.queue IS NOT NULL AND (typeof(NEW.queue) <> 'text' OR trim(NEW.queue) = '')", "errand_enqueue: queue must be a non-empty text.")}
${refuse(`NEW.priority IS NOT NULL AND NOT ${whole("NEW.priority")}`, "errand_enqueue: priority must be an integer (lower runs first).")}
${refuse(
  `NEW.max_attempts IS NOT NULL AND (NOT ${whole("NEW.max_attempts")} OR NEW.max_attempts < 1)`,
  "errand_enqueue: max_attempts must be a whole number of at least 1 (1 means no retries).",
)}
${refuse("NEW.key IS NOT NULL AND (typeof(NEW.key) <> 'text' OR NEW.key = '')", "errand_enqueue: key must be a non-empty text.")}
${refuse(`NEW.run_at IS NOT NULL AND ${timeMs("NEW.run_at")} IS NULL`, "errand_enqueue: run_at must be ISO-8601 text or Unix milliseconds.")}
${refuse(`NEW.expires_at IS NOT NULL AND ${timeMs("NEW.expires_at")} IS NULL`, "errand_enqueue: expires_at must be ISO-8601 text or Unix milliseconds.")}
${refuse("NEW.key_mode IS NOT NULL AND NEW.key IS NULL", "errand_enqueue: key_mode needs a key.")}
${refuse(
  `NEW.key_mode IS NOT NULL AND NEW.key_mode NOT IN ('pending', 'forever') AND NOT (json_valid(NEW.key_mode)
     AND json_type(NEW.key_mode) = 'object' AND json_type(NEW.key_mode, '$.for') IN ('integer', 'real')
     AND NEW.key_mode ->> '$.for' > 0
     AND (SELECT count(*) FROM json_each(NEW.key_mode)) = 1)`,
  `errand_enqueue: key_mode must be 'pending', 'forever' or '{"for": ms}'.`,
)}
${refuse(
  `coalesce(${timeMs("NEW.expires_at")}, (SELECT ${NOW_MS} + expires_in_ms FROM errand_tasks WHERE name = NEW.task))
     <= coalesce(${timeMs("NEW.run_at")}, ${NOW_MS} + coalesce((SELECT delay_ms FROM errand_tasks WHERE name = NEW.task), 0))`,
  "errand_enqueue: the job would expire before it may run, and never run.",
)}
  -- A task whose definition a worker stored, and whose jobs need none of its code, gets its job at once.
  INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, expires_at)
  SELECT t.name, coalesce(NEW.queue, t.queue),
         CASE WHEN coalesce(${timeMs("NEW.run_at")}, ${NOW_MS} + t.delay_ms) > ${NOW_MS} THEN 'scheduled' ELSE 'ready' END,
         json(NEW.args), coalesce(CAST(NEW.priority AS INTEGER), t.priority), coalesce(${timeMs("NEW.run_at")}, ${NOW_MS} + t.delay_ms),
         coalesce(CAST(NEW.max_attempts AS INTEGER), t.max_attempts), NEW.key, ${NOW_MS},
         coalesce(${timeMs("NEW.expires_at")}, ${NOW_MS} + t.expires_in_ms)
  FROM errand_tasks t
  WHERE t.name = NEW.task AND NOT t.needs_code AND coalesce(NEW.key_mode, 'pending') = 'pending'
  ON CONFLICT (key) WHERE key IS NOT NULL AND (state = 'scheduled' OR state = 'ready' OR state = 'running') DO NOTHING;
  -- The others wait for a worker that defines the task (unless their key names a job still to run, or waiting).
  INSERT INTO errand_intake (task, args, options, created_at)
  SELECT NEW.task, json(NEW.args),
         json_patch('{}', json_object('queue', NEW.queue, 'priority', CAST(NEW.priority AS INTEGER),
                     'max_attempts', CAST(NEW.max_attempts AS INTEGER), 'key', NEW.key,
                     'run_at', ${timeMs("NEW.run_at")}, 'expires_at', ${timeMs("NEW.expires_at")},
                     'key_mode', CASE WHEN NEW.key_mode IN ('pending', 'forever') THEN NEW.key_mode ELSE json(NEW.key_mode) END)),
         ${NOW_MS}
  WHERE NOT EXISTS (SELECT 1 FROM errand_tasks t WHERE t.name = NEW.task AND NOT t.needs_code
                    AND coalesce(NEW.key_mode, 'pending') = 'pending')
    AND NOT (NEW.key IS NOT NULL AND (
      EXISTS (SELECT 1 FROM errand_jobs WHERE key = NEW.key AND (state = 'scheduled' OR state = 'ready' OR state = 'running'))
      OR EXISTS (SELECT 1 FROM errand_intake WHERE options ->> '$.key' = NEW.key)));
END;
`;
