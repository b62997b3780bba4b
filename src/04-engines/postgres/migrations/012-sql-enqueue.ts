// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- Task definitions, as the workers that define them stored them at their start: the defaults that an enqueue from
-- SQL takes. needs_code: its jobs need the task's code before they may run (a concurrency key computed from their
-- args), so a worker that defines it prepares them. (A schema needs no such step: a worker checks a job's args
-- against it before the handler, and a job whose args fail it fails for good.)
CREATE TABLE $schema.tasks (
  name              text        PRIMARY KEY,
  queue             text        NOT NULL,
  priority          integer     NOT NULL,
  max_attempts      integer     NOT NULL,
  delay_ms          bigint      NOT NULL,
  expires_in_ms     bigint,
  needs_code        boolean     NOT NULL,
  max_payload_bytes integer     NOT NULL,
  defined_at        timestamptz NOT NULL
);

-- Jobs enqueued from SQL that wait for a worker defining their task to prepare them (its defaults, its concurrency
-- key, key modes): they join the jobs under the id taken here, from the jobs' own sequence.
CREATE TABLE $schema.intake (
  id         bigint      PRIMARY KEY,
  task       text        NOT NULL,
  args       jsonb       NOT NULL,
  options    jsonb       NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX intake_task ON $schema.intake (task, id);
CREATE TRIGGER intake_inserted AFTER INSERT ON $schema.intake
  FOR EACH STATEMENT EXECUTE FUNCTION $schema.notify_jobs();

-- A time option: an ISO-8601 text or Unix milliseconds.
CREATE FUNCTION $schema.enqueue_time(what text, value jsonb) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
  IF jsonb_typeof(value) = 'number' THEN
    RETURN to_timestamp((value #>> '{}')::float8 / 1000);
  END IF;
  IF jsonb_typeof(value) = 'string' THEN
    BEGIN
      RETURN (value #>> '{}')::timestamptz;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END IF;
  RAISE EXCEPTION 'errand.enqueue(): % must be a time, as ISO-8601 text (''2030-01-01T09:00:00Z'') or Unix milliseconds, got %. Nothing was stored.', what, value
    USING ERRCODE = '22023';
END $$;

-- An interval option: PostgreSQL interval text ('10 minutes', 'PT10M') or milliseconds.
CREATE FUNCTION $schema.enqueue_interval(what text, value jsonb) RETURNS interval LANGUAGE plpgsql AS $$
DECLARE
  result interval;
BEGIN
  IF jsonb_typeof(value) = 'number' THEN
    result := (value #>> '{}')::float8 * interval '1 millisecond';
  ELSIF jsonb_typeof(value) = 'string' THEN
    BEGIN
      result := (value #>> '{}')::interval;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END IF;
  IF result IS NULL OR result < interval '0' THEN
    RAISE EXCEPTION 'errand.enqueue(): % must be an interval of at least 0, as text (''10 minutes'') or milliseconds, got %. Nothing was stored.', what, value
      USING ERRCODE = '22023';
  END IF;
  RETURN result;
END $$;

-- Stores one job, as task.enqueue() would, and returns its id. A task whose definition a worker stored, and whose
-- jobs need none of its code, gets its job at once; the others wait in the intake for a worker that defines it.
CREATE FUNCTION $schema.enqueue(task text, args jsonb, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  o   jsonb := coalesce(options, '{}');
  t   $schema.tasks;
  bad text;
  q   text;
  p   integer;
  m   integer;
  k   text;
  run timestamptz;
  exp timestamptz;
  at  timestamptz := clock_timestamp();
  id_ bigint;
BEGIN
  IF task IS NULL OR btrim(task) = '' THEN
    RAISE EXCEPTION 'errand.enqueue(): task must name a task, got %. Nothing was stored.', coalesce(quote_literal(task), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF args IS NULL OR jsonb_typeof(args) NOT IN ('object', 'null') THEN
    RAISE EXCEPTION 'errand.enqueue(): args must be a JSON object (or JSON null for a task that takes none), got %. Nothing was stored.',
      coalesce('a JSON ' || jsonb_typeof(args), 'NULL') USING ERRCODE = '22023';
  END IF;
  IF jsonb_typeof(o) <> 'object' THEN
    RAISE EXCEPTION 'errand.enqueue(): options must be a JSON object, got a JSON %. Nothing was stored.', jsonb_typeof(o)
      USING ERRCODE = '22023';
  END IF;
  SELECT string_agg(quote_ident(key), ', ') INTO bad FROM jsonb_object_keys(o) AS key
    WHERE key NOT IN ('queue', 'priority', 'run_at', 'delay', 'max_attempts', 'key', 'key_mode', 'expires_at');
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'errand.enqueue(): unknown option %. The options are queue, priority, run_at, delay, max_attempts, key, key_mode and expires_at. Nothing was stored.', bad
      USING ERRCODE = '22023';
  END IF;
  SELECT * INTO t FROM $schema.tasks WHERE name = task;
  IF octet_length(args::text) > coalesce(t.max_payload_bytes, 1000000) THEN
    RAISE EXCEPTION 'errand.enqueue(): args take % bytes as JSON, over the %-byte limit. Store large data elsewhere and pass its id. Nothing was stored.',
      octet_length(args::text), coalesce(t.max_payload_bytes, 1000000) USING ERRCODE = '22023';
  END IF;
  IF o ? 'queue' AND (jsonb_typeof(o -> 'queue') <> 'string' OR btrim(o ->> 'queue') = '') THEN
    RAISE EXCEPTION 'errand.enqueue(): queue must be a non-empty string, got %. Nothing was stored.', o -> 'queue'
      USING ERRCODE = '22023';
  END IF;
  IF o ? 'priority' AND (jsonb_typeof(o -> 'priority') <> 'number' OR (o ->> 'priority')::numeric <> trunc((o ->> 'priority')::numeric)
      OR abs((o ->> 'priority')::numeric) > 2147483647) THEN
    RAISE EXCEPTION 'errand.enqueue(): priority must be an integer (lower runs first), got %. Nothing was stored.', o -> 'priority'
      USING ERRCODE = '22023';
  END IF;
  IF o ? 'max_attempts' AND (jsonb_typeof(o -> 'max_attempts') <> 'number' OR (o ->> 'max_attempts')::numeric < 1
      OR (o ->> 'max_attempts')::numeric <> trunc((o ->> 'max_attempts')::numeric) OR (o ->> 'max_attempts')::numeric > 2147483647) THEN
    RAISE EXCEPTION 'errand.enqueue(): max_attempts must be a whole number of at least 1 (1 means no retries), got %. Nothing was stored.', o -> 'max_attempts'
      USING ERRCODE = '22023';
  END IF;
  IF o ? 'key' AND (jsonb_typeof(o -> 'key') <> 'string' OR o ->> 'key' = '') THEN
    RAISE EXCEPTION 'errand.enqueue(): key must be a non-empty string, got %. Nothing was stored.', o -> 'key'
      USING ERRCODE = '22023';
  END IF;
  IF o ? 'key_mode' AND NOT o ? 'key' THEN
    RAISE EXCEPTION 'errand.enqueue(): key_mode needs a key (e.g. {"key": "sync:42", "key_mode": "forever"}). Nothing was stored.'
      USING ERRCODE = '22023';
  END IF;
  IF o ? 'key_mode' AND NOT (o -> 'key_mode' IN ('"pending"', '"forever"')
      OR (jsonb_typeof(o -> 'key_mode') = 'object' AND (SELECT array_agg(key) FROM jsonb_object_keys(o -> 'key_mode') AS key) = '{for}')) THEN
    RAISE EXCEPTION 'errand.enqueue(): key_mode must be "pending", "forever" or {"for": "24 hours"}, got %. Nothing was stored.', o -> 'key_mode'
      USING ERRCODE = '22023';
  END IF;
  IF o ? 'run_at' AND o ? 'delay' THEN
    RAISE EXCEPTION 'errand.enqueue(): give run_at or delay, not both. Nothing was stored.' USING ERRCODE = '22023';
  END IF;
  IF o ? 'run_at' THEN
    run := $schema.enqueue_time('run_at', o -> 'run_at');
  ELSIF o ? 'delay' THEN
    run := at + $schema.enqueue_interval('delay', o -> 'delay');
  END IF;
  IF o ? 'expires_at' THEN
    exp := $schema.enqueue_time('expires_at', o -> 'expires_at');
  END IF;
  IF o -> 'key_mode' -> 'for' IS NOT NULL THEN
    PERFORM $schema.enqueue_interval('key_mode.for', o -> 'key_mode' -> 'for');
  END IF;
  IF exp IS NOT NULL AND run IS NOT NULL AND exp <= run THEN
    RAISE EXCEPTION 'errand.enqueue(): the job would expire (%) before it may run (%), and never run. Nothing was stored.', exp, run
      USING ERRCODE = '22023';
  END IF;

  -- Its task's code is needed (or its definition is not known yet, or the key lasts beyond the job): to the intake.
  IF t.name IS NULL OR t.needs_code OR coalesce(o -> 'key_mode', '"pending"') <> '"pending"' THEN
    IF o ? 'key' THEN
      SELECT j.id INTO id_ FROM $schema.jobs j WHERE j.key = o ->> 'key' AND j.state IN ('scheduled', 'ready', 'running');
      IF id_ IS NULL THEN
        SELECT i.id INTO id_ FROM $schema.intake i WHERE i.options ->> 'key' = o ->> 'key';
      END IF;
      IF id_ IS NOT NULL THEN
        RETURN id_;
      END IF;
    END IF;
    -- Its options as checked here, times in ms since the epoch (as on SQLite), for the worker that prepares it.
    INSERT INTO $schema.intake (id, task, args, options, created_at)
      VALUES (nextval('$schema.jobs_id_seq'), task, args, jsonb_strip_nulls(jsonb_build_object(
        'queue', o -> 'queue', 'priority', o -> 'priority', 'max_attempts', o -> 'max_attempts', 'key', o -> 'key',
        'key_mode', CASE WHEN o -> 'key_mode' -> 'for' IS NOT NULL
          THEN jsonb_build_object('for', round(extract(epoch FROM $schema.enqueue_interval('key_mode.for', o -> 'key_mode' -> 'for')) * 1000))
          ELSE o -> 'key_mode' END,
        'run_at', round(extract(epoch FROM run) * 1000), 'expires_at', round(extract(epoch FROM exp) * 1000))), at)
      RETURNING id INTO id_;
    RETURN id_;
  END IF;

  q := coalesce(o ->> 'queue', t.queue);
  p := coalesce((o ->> 'priority')::integer, t.priority);
  m := coalesce((o ->> 'max_attempts')::integer, t.max_attempts);
  k := o ->> 'key';
  run := coalesce(run, at + t.delay_ms * interval '1 millisecond');
  exp := coalesce(exp, at + t.expires_in_ms * interval '1 millisecond');
  IF exp IS NOT NULL AND exp <= run THEN
    RAISE EXCEPTION 'errand.enqueue(): the job would expire (%) before it may run (%), and never run. Nothing was stored.', exp, run
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO $schema.jobs (task, queue, state, args, priority, run_at, max_attempts, key, created_at, expires_at)
    VALUES (task, q, CASE WHEN run > at THEN 'scheduled' ELSE 'ready' END, args, p, run, m, k, at, exp)
    ON CONFLICT (key) WHERE key IS NOT NULL AND state IN ('scheduled', 'ready', 'running') DO NOTHING
    RETURNING id INTO id_;
  IF id_ IS NULL THEN
    SELECT j.id INTO id_ FROM $schema.jobs j WHERE j.key = k AND j.state IN ('scheduled', 'ready', 'running');
  END IF;
  RETURN id_;
END $$;

-- Many jobs, in order: [{ "task": ..., "args": ..., "options": ... }, ...]; their ids, in the same order.
CREATE FUNCTION $schema.enqueue_many(jobs jsonb) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
  item jsonb;
  n    integer := 0;
  bad  text;
BEGIN
  IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN
    RAISE EXCEPTION 'errand.enqueue_many(): jobs must be a JSON array of {"task", "args", "options"}, got %. Nothing was stored.',
      coalesce('a JSON ' || jsonb_typeof(jobs), 'NULL') USING ERRCODE = '22023';
  END IF;
  FOR item IN SELECT value FROM jsonb_array_elements(jobs) LOOP
    IF jsonb_typeof(item) <> 'object' OR jsonb_typeof(item -> 'task') IS DISTINCT FROM 'string' THEN
      RAISE EXCEPTION 'errand.enqueue_many(): jobs[%] must be an object with a "task" name, got %. Nothing was stored.', n, item
        USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(quote_ident(key), ', ') INTO bad FROM jsonb_object_keys(item) AS key
      WHERE key NOT IN ('task', 'args', 'options');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'errand.enqueue_many(): jobs[%] has unknown field %: each job is {"task", "args", "options"}. Nothing was stored.', n, bad
        USING ERRCODE = '22023';
    END IF;
    BEGIN
      RETURN NEXT $schema.enqueue(item ->> 'task', coalesce(item -> 'args', 'null'), coalesce(item -> 'options', '{}'));
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE EXCEPTION '%', replace(SQLERRM, 'errand.enqueue():', format('errand.enqueue_many(): jobs[%s]:', n))
        USING ERRCODE = '22023';
    END;
    n := n + 1;
  END LOOP;
END $$;
`;
