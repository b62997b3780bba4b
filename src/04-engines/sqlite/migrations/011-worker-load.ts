// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- What a worker's handlers take of it (pools of isolated handlers, seconds the event loop was held), as JSON, with
-- each heartbeat: for errand status and the metrics.
ALTER TABLE errand_workers ADD COLUMN load TEXT;
`;
