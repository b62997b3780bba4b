// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- The intake's inserts wake workers with a payload of their own, so that a worker looks at the intake only when a
-- job entered it, not at every enqueue.
CREATE FUNCTION $schema.notify_intake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify($channel, 'intake');
  RETURN NULL;
END $$;

DROP TRIGGER intake_inserted ON $schema.intake;
CREATE TRIGGER intake_inserted AFTER INSERT ON $schema.intake
  FOR EACH STATEMENT EXECUTE FUNCTION $schema.notify_intake();
`;
