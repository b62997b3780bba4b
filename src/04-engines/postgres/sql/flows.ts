import { fragments } from "./fragments.js";

export function flowsSql(schema: string) {
  const { jobs, stillToRun, cancelFrom } = fragments(schema);
  return {
    // Flows (src/07-features/flows, src/03-storage-logic/flow-advance.ts): a flow, its members, and the jobs members become. Writers lock a flow's row before its
    // members', after the jobs whose outcome moves it: one order everywhere.
    // A flow in one statement: the flow, its members, and the jobs of those that wait for none (their ids drawn
    // first, so that members and jobs name each other).
    createFlow: /* sql */ `
      WITH f AS (
        INSERT INTO ${schema}.flows (kind, state, open, result_pos, parent_job_id, created_at)
        VALUES ($1, 'running', $2, $3, $4, $5) RETURNING id),
      x AS MATERIALIZED (
        SELECT m.*, CASE WHEN m.starts THEN nextval(pg_get_serial_sequence('${jobs}', 'id')) END AS job_id
        FROM jsonb_to_recordset($6::text::jsonb) AS m(pos integer, task text, pending integer, after integer[],
          next integer[], input text, on_failure text, template jsonb, starts boolean, queue text, state text,
          args text, priority integer, run_at timestamptz, max_attempts integer, traceparent text,
          concurrency_key text, concurrency_limit integer)),
      members AS (
        INSERT INTO ${schema}.flow_members (flow_id, pos, task, state, job_id, pending, after, next, input, on_failure,
          template)
        SELECT f.id, x.pos, x.task, CASE WHEN x.starts THEN 'created' ELSE 'waiting' END, x.job_id, x.pending,
          x.after, x.next, x.input, x.on_failure, x.template
        FROM f, x),
      started AS (
        INSERT INTO ${jobs} (id, task, queue, state, args, priority, run_at, max_attempts, created_at, traceparent,
          concurrency_key, concurrency_limit, flow_id, flow_pos)
        SELECT x.job_id, x.task, x.queue, x.state, x.args::jsonb, x.priority, x.run_at, x.max_attempts, $5,
          x.traceparent, x.concurrency_key, x.concurrency_limit, f.id, x.pos
        FROM f, x WHERE x.starts)
      SELECT f.id, (SELECT array_agg(x.job_id::text ORDER BY x.pos) FROM x) AS job_ids FROM f`,
    lockFlow: /* sql */ `
      SELECT state, open, failed_pos, cancelled_pos, parent_job_id FROM ${schema}.flows WHERE id = $1 FOR UPDATE`,
    getFlow: /* sql */ `
      SELECT id, kind, state, open, result_pos, failed_pos, cancelled_pos, parent_job_id, created_at, finished_at
      FROM ${schema}.flows WHERE id = $1`,
    setFlow: /* sql */ `
      UPDATE ${schema}.flows SET state = $2, open = $3, failed_pos = $4, cancelled_pos = $5,
        finished_at = CASE WHEN $2 = 'running' THEN NULL ELSE coalesce($6, finished_at) END
      WHERE id = $1`,
    flowMembersAt: /* sql */ `
      SELECT pos, task, state, pending, after, next, input, on_failure, template, result::text AS result, error
      FROM ${schema}.flow_members WHERE flow_id = $1 AND pos = ANY($2::integer[]) ORDER BY pos FOR UPDATE`,
    flowAllMembers: /* sql */ `
      SELECT pos, task, state, pending, after, next, input, on_failure, template, result::text AS result, error, job_id
      FROM ${schema}.flow_members WHERE flow_id = $1 ORDER BY pos FOR UPDATE`,
    // A created member's state is its job's (for as long as the job is kept; its end is copied here).
    flowMembers: /* sql */ `
      SELECT m.pos, m.task, CASE WHEN m.state = 'created' THEN coalesce(j.state, 'created') ELSE m.state END AS state,
        m.job_id, j.attempt, j.max_attempts, m.after, m.result::text AS result, m.error
      FROM ${schema}.flow_members m LEFT JOIN ${jobs} j ON j.id = m.job_id
      WHERE m.flow_id = $1 ORDER BY m.pos`,
    // The same reads and writes for many flows at once (a batch of outcomes over many flows): flows locked in id
    // order, then their members.
    lockFlows: /* sql */ `
      SELECT id, state, open, failed_pos, cancelled_pos, parent_job_id FROM ${schema}.flows
      WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
    flowsMembersAt: /* sql */ `
      SELECT m.flow_id, m.pos, m.task, m.state, m.pending, m.after, m.next, m.input, m.on_failure, m.template,
        m.result::text AS result, m.error
      -- A join from the keys asked, one primary-key probe each: "(flow_id, pos) IN (...)" was planned as a walk of
      -- the whole table on claim connections (0.8 s with 6,000 members). Their flows' locks order these.
      FROM unnest($1::bigint[], $2::integer[]) AS k(flow_id, pos)
      JOIN ${schema}.flow_members m ON m.flow_id = k.flow_id AND m.pos = k.pos
      FOR UPDATE OF m`,
    setFlowsMembers: /* sql */ `
      UPDATE ${schema}.flow_members m
      SET state = c.state, pending = c.pending, job_id = coalesce(c.job_id, m.job_id),
        result = CASE WHEN c.clear THEN NULL ELSE coalesce(c.result::jsonb, m.result) END,
        error = CASE WHEN c.clear THEN NULL ELSE coalesce(c.error, m.error) END
      FROM jsonb_to_recordset($1::jsonb) AS c(flow_id bigint, pos integer, state text, pending integer, job_id bigint,
        result text, error jsonb, clear boolean)
      WHERE m.flow_id = c.flow_id AND m.pos = c.pos`,
    insertFlowJobs: /* sql */ `
      INSERT INTO ${jobs} (task, queue, state, args, priority, run_at, max_attempts, created_at, traceparent,
        concurrency_key, concurrency_limit, flow_id, flow_pos)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[], $7::int[],
        $8::timestamptz[], $9::text[], $10::text[], $11::int[], $12::bigint[], $13::int[])
      RETURNING id, flow_id, flow_pos`,
    setFlows: /* sql */ `
      UPDATE ${schema}.flows f SET state = c.state, open = c.open, failed_pos = c.failed_pos,
        cancelled_pos = c.cancelled_pos,
        finished_at = CASE WHEN c.state = 'running' THEN NULL ELSE coalesce(c.finished_at, f.finished_at) END
      FROM jsonb_to_recordset($1::jsonb) AS c(id bigint, state text, open integer, failed_pos integer,
        cancelled_pos integer, finished_at timestamptz)
      WHERE f.id = c.id`,
    wakeParents: /* sql */ `
      UPDATE ${jobs}
      SET waiting_for = 0,
          state = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN 'ready' ELSE state END,
          run_at = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN clock_timestamp() ELSE run_at END
      WHERE id = ANY($1::bigint[])`,
    // A flow's cancel: its jobs still to run or running end cancelled (locked in id order, as outcomes lock them).
    cancelFlowJobs: /* sql */ `
      WITH locked AS (
        -- Found from the flow's members: jobs have no index on their flow.
        SELECT j.id FROM ${schema}.flow_members m JOIN ${jobs} j ON j.id = m.job_id
        WHERE m.flow_id = $2 AND j.${stillToRun} ORDER BY j.id FOR UPDATE OF j),${cancelFrom("locked")}
      SELECT * FROM cancelled`,
    // A parent's children ended: it runs now if it already waits for them; otherwise its suspension finds it so.
    wakeParent: /* sql */ `
      UPDATE ${jobs}
      SET waiting_for = 0,
          state = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN 'ready' ELSE state END,
          run_at = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN clock_timestamp() ELSE run_at END
      WHERE id = $1`,
    // ctx.spawn(), fenced by the lease: the parent waits for children from here on.
    awaitChildren: `UPDATE ${jobs} SET waiting_for = 1 WHERE id = $1 AND lease_token = $2`,

    // Durable steps. A step is stored only while its attempt holds the lease.
    loadSteps: `SELECT seq, name, result::text AS result FROM ${schema}.job_steps WHERE job_id = $1 ORDER BY seq`,
    saveStep: /* sql */ `
      INSERT INTO ${schema}.job_steps (job_id, seq, name, result)
      SELECT $1, $3, $4, $5::jsonb WHERE EXISTS (SELECT 1 FROM ${jobs} WHERE id = $1 AND lease_token = $2)
      ON CONFLICT (job_id, seq) DO UPDATE SET name = excluded.name, result = excluded.result`,
  };
}

export type FlowsSql = ReturnType<typeof flowsSql>;
