// The statements of job events (see events.ts): NOTIFY only while a listening connection holds the shared lock.

/** The first key of the advisory lock a connection listening to job events holds; the second is the channel's hash. */
const LISTENING_LOCK_KEY = 1701999204;

/** Statements that take and release the lock around LISTEN and UNLISTEN, on the listening connection. */
export function listenEventsSql(channel: string, listen: boolean): string {
  const lock = `${LISTENING_LOCK_KEY}, hashtext('${channel.replaceAll("'", "''")}')`;
  return listen
    ? `SELECT pg_advisory_lock_shared(${lock}); LISTEN "${channel}"`
    : `UNLISTEN "${channel}"; SELECT pg_advisory_unlock_shared(${lock})`;
}

const LISTENING = /* sql */ `EXISTS (
  SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = ${LISTENING_LOCK_KEY} AND objid = hashtext($1)::oid
    AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;

/** $1 the channel, $2 the chunks of events. */
export const NOTIFY_EVENTS = `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p WHERE ${LISTENING}`;

/** $1 the channel. */
export const LISTENING_EVENTS = `SELECT ${LISTENING} AS listening`;
