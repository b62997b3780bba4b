// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- Job events: one row per write that had some (a batch of outcomes is one row), its payload a JSON array (see
-- backends/events.ts). Processes that listen read the rows after the last one they read; rows are deleted after
-- a minute. At most once: a record of what happened is the jobs table, not this one. Applying it twice is harmless.
CREATE TABLE IF NOT EXISTS errand_events (
  seq     INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  payload TEXT    NOT NULL
);
`;
