// Released migrations are never edited: a change goes in a new numbered file.
// The errand_enqueue view's trigger again, cheaper: its checks in one statement (one CASE, which stops at the first
// that fails), the expiry check only when the insert gives a time, and args stored as given once found valid JSON.
const NOW_MS = `CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`;
// A whole number, whether the client bound it as an integer or as a real (better-sqlite3 binds JavaScript numbers so).
const whole = (v: string) => `(typeof(${v}) IN ('integer', 'real') AND ${v} = CAST(${v} AS INTEGER))`;
// A time column: Unix milliseconds, or ISO-8601 text; NULL when it is not a time.
const timeMs = (v: string) =>
  `CASE WHEN ${whole(v)} THEN CAST(${v} AS INTEGER) WHEN typeof(${v}) = 'text' THEN CAST(round((julianday(${v}) - 2440587.5) * 86400000) AS INTEGER) END`;
const checks: [string, string][] = [
  ["NEW.task IS NULL OR typeof(NEW.task) <> 'text' OR trim(NEW.task) = ''", "task must name a task."],
  [
    "NEW.args IS NULL OR typeof(NEW.args) <> 'text' OR NOT json_valid(NEW.args) OR json_type(NEW.args) NOT IN ('object', 'null')",
    "args must be a JSON object as text (or 'null' for a task that takes none).",
  ],
  ["instr(NEW.args, '\\u0000') > 0", "args hold a NUL character (\\u0000), which errand does not store: remove it."],
  [
    "length(CAST(NEW.args AS BLOB)) > coalesce((SELECT max_payload_bytes FROM errand_tasks WHERE name = NEW.task), 1000000)",
    "args are over the payload limit (1,000,000 bytes unless the task's Errand sets maxPayloadBytes): store large data elsewhere and pass its id.",
  ],
  [
    "NEW.queue IS NOT NULL AND (typeof(NEW.queue) <> 'text' OR trim(NEW.queue) = '')",
    "queue must be a non-empty text.",
  ],
  [`NEW.priority IS NOT NULL AND NOT ${whole("NEW.priority")}`, "priority must be an integer (lower runs first)."],
  [
    `NEW.max_attempts IS NOT NULL AND (NOT ${whole("NEW.max_attempts")} OR NEW.max_attempts < 1)`,
    "max_attempts must be a whole number of at least 1 (1 means no retries).",
  ],
  ["NEW.key IS NOT NULL AND (typeof(NEW.key) <> 'text' OR NEW.key = '')", "key must be a non-empty text."],
  [`NEW.run_at IS NOT NULL AND ${timeMs("NEW.run_at")} IS NULL`, "run_at must be ISO-8601 text or Unix milliseconds."],
  [
    `NEW.expires_at IS NOT NULL AND ${timeMs("NEW.expires_at")} IS NULL`,
    "expires_at must be ISO-8601 text or Unix milliseconds.",
  ],
  ["NEW.key_mode IS NOT NULL AND NEW.key IS NULL", "key_mode needs a key."],
  [
    `NEW.key_mode IS NOT NULL AND NEW.key_mode NOT IN ('pending', 'forever') AND NOT (json_valid(NEW.key_mode)
       AND json_type(NEW.key_mode) = 'object' AND json_type(NEW.key_mode, '$.for') IN ('integer', 'real')
       AND NEW.key_mode ->> '$.for' > 0 AND (SELECT count(*) FROM json_each(NEW.key_mode)) = 1)`,
    `key_mode must be 'pending', 'forever' or '{"for": ms}'.`,
  ],
  // A task's own defaults never expire a job before it runs (its definition checks that): only given times can.
  [
    `(NEW.run_at IS NOT NULL OR NEW.expires_at IS NOT NULL)
     AND coalesce(${timeMs("NEW.expires_at")}, (SELECT ${NOW_MS} + expires_in_ms FROM errand_tasks WHERE name = NEW.task))
       <= coalesce(${timeMs("NEW.run_at")}, ${NOW_MS} + coalesce((SELECT delay_ms FROM errand_tasks WHERE name = NEW.task), 0))`,
    "the job would expire before it may run, and never run.",
  ],
];
const validate = `  SELECT CASE
${checks.map(([when, message]) => `    WHEN ${when}\n      THEN RAISE(ABORT, '${`errand_enqueue: ${message} Nothing was stored.`.replaceAll("'", "''")}')`).join("\n")}
  END;`;

export default /* sql */ `
DROP TRIGGER errand_enqueue_insert;

CREATE TRIGGER errand_enqueue_insert INSTEAD OF INSERT ON errand_enqueue BEGIN
${validate}
  -- A task whose definition a worker stored, and whose jobs need none of its code, gets its job at once.
  INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, expires_at)
  SELECT t.name, coalesce(NEW.queue, t.queue),
         CASE WHEN coalesce(${timeMs("NEW.run_at")}, ${NOW_MS} + t.delay_ms) > ${NOW_MS} THEN 'scheduled' ELSE 'ready' END,
         NEW.args, coalesce(CAST(NEW.priority AS INTEGER), t.priority), coalesce(${timeMs("NEW.run_at")}, ${NOW_MS} + t.delay_ms),
         coalesce(CAST(NEW.max_attempts AS INTEGER), t.max_attempts), NEW.key, ${NOW_MS},
         coalesce(${timeMs("NEW.expires_at")}, ${NOW_MS} + t.expires_in_ms)
  FROM errand_tasks t
  WHERE t.name = NEW.task AND NOT t.needs_code AND coalesce(NEW.key_mode, 'pending') = 'pending'
  ON CONFLICT (key) WHERE key IS NOT NULL AND (state = 'scheduled' OR state = 'ready' OR state = 'running') DO NOTHING;
  -- The others wait for a worker that defines the task (unless their key names a job still to run, or waiting).
  INSERT INTO errand_intake (task, args, options, created_at)
  SELECT NEW.task, NEW.args,
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
