// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- Workflows (chains, groups, chords). A flow's members that wait for others are not jobs yet: they become jobs in
-- the transaction that records the success their turn waited for, so a crash can neither lose nor double them.
CREATE TABLE $schema.flows (
  id            bigserial   PRIMARY KEY,
  kind          text        NOT NULL CHECK (kind IN ('chain', 'group', 'chord')),
  state         text        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
  -- Members not yet in a final state: the flow ends when none is left.
  open          integer     NOT NULL,
  -- The member whose result is the flow's (the chain's last, the chord's callback); NULL: every member's, in order.
  result_pos    integer,
  -- The first member that failed for good, and the first one cancelled (not skipped).
  failed_pos    integer,
  cancelled_pos integer,
  -- A job that spawned this flow's members as its children (ctx.spawn) and waits for them.
  parent_job_id bigint,
  created_at    timestamptz NOT NULL,
  finished_at   timestamptz
);
CREATE TABLE $schema.flow_members (
  flow_id    bigint  NOT NULL,
  pos        integer NOT NULL,
  task       text    NOT NULL,
  -- waiting (not a job yet), created (its job is to run or running), then its job's final state; skipped members
  -- (an earlier one failed) end cancelled.
  state      text    NOT NULL,
  job_id     bigint,
  -- Members it still waits for, which ones, and the members that wait for it.
  pending    integer NOT NULL,
  after      integer[] NOT NULL,
  next       integer[] NOT NULL,
  -- What its args become: 'none' (as given), 'result' (its one predecessor's result), 'results' (an array of them).
  input      text    NOT NULL,
  -- When a member it waits for fails for good: 'skip' (it is cancelled, and so are those waiting for it) or 'run'.
  on_failure text    NOT NULL,
  -- The job to create once its turn comes, without its args.
  template   jsonb,
  result     jsonb,
  error      jsonb,
  PRIMARY KEY (flow_id, pos)
);
ALTER TABLE $schema.jobs ADD COLUMN flow_id bigint, ADD COLUMN flow_pos integer,
  -- A parent waits for its children (1 while they run): their flow's end and the parent's own suspension both
  -- write this row, so whichever comes second finds what the first did.
  ADD COLUMN waiting_for integer NOT NULL DEFAULT 0;
-- Finished flows go with pruning, oldest first.
CREATE INDEX flows_finished ON $schema.flows (finished_at) WHERE state <> 'running';

-- Durable steps (ctx.step, ctx.sleep): a job's finished steps, in the order its handler called them.
CREATE TABLE $schema.job_steps (
  job_id bigint  NOT NULL,
  seq    integer NOT NULL,
  name   text    NOT NULL,
  result jsonb,
  PRIMARY KEY (job_id, seq)
);
`;
