// The statements of flows.ts. Times are integer milliseconds since the epoch, passed in by the caller.
// "Still to run" means scheduled, ready or running; the partial indexes of 001-jobs.ts follow the same states.

// Flows (src/07-features/flows, src/03-storage-logic/flow-advance.ts): a flow, its members, and the jobs members become.
export const INSERT_FLOW = /* sql */ `
INSERT INTO errand_flows (kind, state, open, result_pos, parent_job_id, created_at) VALUES (?, 'running', ?, ?, ?, ?)`;

export const INSERT_FLOW_MEMBER = /* sql */ `
INSERT INTO errand_flow_members (flow_id, pos, task, state, pending, after, next, input, on_failure, template)
VALUES (:flow_id, :pos, :task, 'waiting', :pending, :after, :next, :input, :on_failure, :template)`;

export const INSERT_FLOW_JOB = /* sql */ `
INSERT INTO errand_jobs (task, queue, state, args, priority, run_at, max_attempts, created_at, traceparent,
  concurrency_key, concurrency_limit, flow_id, flow_pos)
VALUES (:task, :queue, :state, :args, :priority, :run_at, :max_attempts, :created_at, :traceparent,
  :concurrency_key, :concurrency_limit, :flow_id, :flow_pos)`;

export const GET_FLOW = /* sql */ `
SELECT id, kind, state, open, result_pos, failed_pos, cancelled_pos, parent_job_id, created_at, finished_at
FROM errand_flows
WHERE id = ?`;

export const SET_FLOW = /* sql */ `
UPDATE errand_flows SET state = :state, open = :open, failed_pos = :failed_pos, cancelled_pos = :cancelled_pos,
  finished_at = CASE WHEN :state = 'running' THEN NULL ELSE coalesce(:finished_at, finished_at) END
WHERE id = :id`;

export const FLOW_MEMBERS_AT = /* sql */ `
SELECT pos, task, state, pending, after, next, input, on_failure, template, result, error FROM errand_flow_members
WHERE flow_id = ? AND pos IN (SELECT value FROM json_each(?))`;

export const FLOW_ALL_MEMBERS = /* sql */ `
SELECT pos, task, state, pending, after, next, input, on_failure, template, result, error, job_id FROM errand_flow_members
WHERE flow_id = ? ORDER BY pos`;

// A created member's state is its job's (for as long as the job is kept; its end is copied here).
export const FLOW_MEMBERS = /* sql */ `
SELECT m.pos, m.task, CASE WHEN m.state = 'created' THEN coalesce(j.state, 'created') ELSE m.state END AS state,
  m.job_id, j.attempt, j.max_attempts, m.after, m.result, m.error
FROM errand_flow_members m LEFT JOIN errand_jobs j ON j.id = m.job_id
WHERE m.flow_id = ? ORDER BY m.pos`;

export const SET_FLOW_MEMBER = /* sql */ `
UPDATE errand_flow_members SET state = :state, pending = :pending, job_id = coalesce(:job_id, job_id),
  result = CASE WHEN :clear THEN NULL ELSE coalesce(:result, result) END,
  error = CASE WHEN :clear THEN NULL ELSE coalesce(:error, error) END
WHERE flow_id = :flow_id AND pos = :pos`;

// A flow's jobs still to run or running, for its cancel: found from its members (jobs have no index on their flow).
export const FLOW_JOBS_TO_CANCEL = /* sql */ `
SELECT j.id FROM errand_flow_members m JOIN errand_jobs j ON j.id = m.job_id
WHERE m.flow_id = ? AND (j.state = 'scheduled' OR j.state = 'ready' OR j.state = 'running') ORDER BY j.id`;

// Durable steps. A step is stored only while its attempt holds the lease.
export const LOAD_STEPS = /* sql */ `SELECT seq, name, result FROM errand_job_steps WHERE job_id = ? ORDER BY seq`;

export const SAVE_STEP = /* sql */ `
INSERT INTO errand_job_steps (job_id, seq, name, result)
SELECT :id, :seq, :name, :result WHERE EXISTS (SELECT 1 FROM errand_jobs WHERE id = :id AND lease_token = :token)
ON CONFLICT (job_id, seq) DO UPDATE SET name = excluded.name, result = excluded.result`;

// A parent's children ended: it runs now if it already waits for them; otherwise its suspension finds it so.
export const WAKE_PARENT = /* sql */ `
UPDATE errand_jobs
SET waiting_for = 0,
    state = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN 'ready' ELSE state END,
    run_at = CASE WHEN state = 'scheduled' AND waiting_for > 0 THEN :now ELSE run_at END
WHERE id = :id`;

// ctx.spawn(), fenced by the lease: the parent waits for children from here on.
export const AWAIT_CHILDREN = /* sql */ `UPDATE errand_jobs SET waiting_for = 1 WHERE id = ? AND lease_token = ?`;
