// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- Workflows (chains, groups, chords). A flow's members that wait for others are not jobs yet: they become jobs in
-- the transaction that records the success their turn waited for, so a crash can neither lose nor double them.
CREATE TABLE errand_flows (
  id          INTEGER PRIMARY KEY,
  kind        TEXT    NOT NULL CHECK (kind = 'chain' OR kind = 'group' OR kind = 'chord'),
  state       TEXT    NOT NULL CHECK (state = 'running' OR state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
  -- Members not yet in a final state: the flow ends when none is left.
  open        INTEGER NOT NULL,
  -- The member whose result is the flow's (the chain's last, the chord's callback); NULL: every member's, in order.
  result_pos  INTEGER,
  -- The first member that failed for good, and the first one cancelled (not skipped).
  failed_pos  INTEGER,
  cancelled_pos INTEGER,
  -- A job that spawned this flow's members as its children (ctx.spawn) and waits for them.
  parent_job_id INTEGER,
  created_at  INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE TABLE errand_flow_members (
  flow_id    INTEGER NOT NULL,
  pos        INTEGER NOT NULL,
  task       TEXT    NOT NULL,
  -- waiting (not a job yet), created (its job is to run or running), then its job's final state; skipped members
  -- (an earlier one failed) end cancelled.
  state      TEXT    NOT NULL,
  job_id     INTEGER,
  -- Members it still waits for, which ones (JSON array of positions), and the members that wait for it.
  pending    INTEGER NOT NULL,
  after      TEXT    NOT NULL,
  next       TEXT    NOT NULL,
  -- What its args become: 'none' (as given), 'result' (its one predecessor's result), 'results' (an array of them).
  input      TEXT    NOT NULL,
  -- When a member it waits for fails for good: 'skip' (it is cancelled, and so are those waiting for it) or 'run'.
  on_failure TEXT    NOT NULL,
  -- The job to create once its turn comes (JSON), without its args.
  template   TEXT,
  result     TEXT,
  error      TEXT,
  PRIMARY KEY (flow_id, pos)
) WITHOUT ROWID;
ALTER TABLE errand_jobs ADD COLUMN flow_id INTEGER;
ALTER TABLE errand_jobs ADD COLUMN flow_pos INTEGER;
-- A parent waits for its children (1 while they run): their flow's end and the parent's own suspension both write
-- this row, so whichever comes second finds what the first did.
ALTER TABLE errand_jobs ADD COLUMN waiting_for INTEGER NOT NULL DEFAULT 0;
-- Finished flows go with pruning, oldest first.
CREATE INDEX errand_flows_finished ON errand_flows (finished_at) WHERE state <> 'running';

-- Durable steps (ctx.step, ctx.sleep): a job's finished steps, in the order its handler called them.
CREATE TABLE errand_job_steps (
  job_id INTEGER NOT NULL,
  seq    INTEGER NOT NULL,
  name   TEXT    NOT NULL,
  result TEXT,
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
`;
