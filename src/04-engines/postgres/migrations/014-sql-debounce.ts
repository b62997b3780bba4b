// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
// errand.enqueue() takes a debounce option, as task.enqueue() does: migration 12's function, whole, with it.
export default /* sql */ `
-- debounce: an interval (text or milliseconds), or {"wait": ..., "max_wait": ...}; it needs a key, and goes with
-- neither run_at, delay nor key_mode. Written at once for a task whose definition is stored and whose jobs need
-- none of its code; refused otherwise (through the intake, each enqueue would take an id that no job keeps).
CREATE OR REPLACE FUNCTION $schema.enqueue(task text, args jsonb, options jsonb DEFAULT '{}') RETURNS bigint
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
  dw  interval;
  dm  interval;
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
    WHERE key NOT IN ('queue', 'priority', 'run_at', 'delay', 'max_attempts', 'key', 'key_mode', 'expires_at', 'debounce');
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'errand.enqueue(): unknown option %. The options are queue, priority, run_at, delay, max_attempts, key, key_mode, expires_at and debounce. Nothing was stored.', bad
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
  IF o ? 'debounce' THEN
    IF NOT o ? 'key' THEN
      RAISE EXCEPTION 'errand.enqueue(): debounce needs a key (e.g. {"key": "sync:42", "debounce": "5 seconds"}). Nothing was stored.'
        USING ERRCODE = '22023';
    END IF;
    IF o ? 'run_at' OR o ? 'delay' OR o ? 'key_mode' THEN
      RAISE EXCEPTION 'errand.enqueue(): debounce goes with neither run_at, delay nor key_mode: the job runs debounce after the last enqueue of its key. Nothing was stored.'
        USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(o -> 'debounce') = 'object' THEN
      IF NOT (o -> 'debounce') ? 'wait' OR EXISTS (SELECT 1 FROM jsonb_object_keys(o -> 'debounce') AS key WHERE key NOT IN ('wait', 'max_wait')) THEN
        RAISE EXCEPTION 'errand.enqueue(): debounce must be an interval or {"wait": "5 seconds", "max_wait": "1 minute"}, got %. Nothing was stored.', o -> 'debounce'
          USING ERRCODE = '22023';
      END IF;
      dw := $schema.enqueue_interval('debounce.wait', o -> 'debounce' -> 'wait');
      IF (o -> 'debounce') ? 'max_wait' THEN
        dm := $schema.enqueue_interval('debounce.max_wait', o -> 'debounce' -> 'max_wait');
      END IF;
    ELSE
      dw := $schema.enqueue_interval('debounce', o -> 'debounce');
    END IF;
    run := at + dw;
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
    IF o ? 'debounce' THEN
      RAISE EXCEPTION 'errand.enqueue(): debounce from SQL needs task %''s definition in the database (a worker that defines it stores it as it starts), and a task whose jobs need none of its code (no concurrency key). Enqueue it from TypeScript instead. Nothing was stored.', task
        USING ERRCODE = '22023';
    END IF;
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
  IF dw IS NOT NULL THEN
    -- The waiting job of the debounce key takes these args and the later run time (no later than max_wait after
    -- the burst's first enqueue); without one, a new job holds it. A waiting job claimed between the two is left to
    -- run, and this enqueue makes the next: hence a second try.
    FOR try IN 1..2 LOOP
      INSERT INTO $schema.jobs AS j (task, queue, state, args, priority, run_at, max_attempts, debounce_key, created_at, expires_at)
        VALUES (task, q, CASE WHEN run > at THEN 'scheduled' ELSE 'ready' END, args, p, run, m, k, at, exp)
        ON CONFLICT (debounce_key) WHERE debounce_key IS NOT NULL AND state IN ('scheduled', 'ready')
        DO UPDATE SET args = excluded.args,
          run_at = CASE WHEN dm IS NULL THEN excluded.run_at ELSE LEAST(excluded.run_at, j.created_at + dm) END,
          state = CASE WHEN dm IS NOT NULL AND j.created_at + dm <= excluded.created_at THEN 'ready' ELSE excluded.state END
          WHERE j.state IN ('scheduled', 'ready')
        RETURNING j.id INTO id_;
      EXIT WHEN id_ IS NOT NULL;
    END LOOP;
    RETURN id_;
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
`;
