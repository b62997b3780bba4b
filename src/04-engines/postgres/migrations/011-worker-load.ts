// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- What a worker's handlers take of it (pools of isolated handlers, seconds the event loop was held), as JSON, with
-- each heartbeat: for errand status and the metrics.
ALTER TABLE $schema.workers ADD COLUMN load jsonb;
`;
