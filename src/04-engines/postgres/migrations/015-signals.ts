// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- Signals sent to a job (errand.signal) and not yet taken by its ctx.waitFor(): a mailbox, oldest first per name.
-- A signal is taken in the transaction that stores it as the wait's step, so it is delivered once.
CREATE TABLE $schema.signals (
  id      bigserial   PRIMARY KEY,
  job_id  bigint      NOT NULL,
  name    text        NOT NULL,
  payload jsonb,
  sent_at timestamptz NOT NULL
);
CREATE INDEX signals_job ON $schema.signals (job_id, name, id);
-- A job's kept signals go with it, however it is deleted (pruned, by an operator): one statement per delete.
CREATE FUNCTION $schema.drop_signals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM $schema.signals s USING gone WHERE s.job_id = gone.id;
  RETURN NULL;
END $$;
CREATE TRIGGER signals_gone AFTER DELETE ON $schema.jobs
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION $schema.drop_signals();
-- The signal a job's handler waits for (ctx.waitFor), from when. A signal and the job's own suspension both update
-- this row, whose lock orders them: whichever comes second finds what the first did (as waiting_for does).
ALTER TABLE $schema.jobs ADD COLUMN waiting_signal text, ADD COLUMN waiting_since timestamptz;
`;
