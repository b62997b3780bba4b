// Released migrations are never edited: a change goes in a new numbered file. `$schema` is the quoted schema name.
export default /* sql */ `
-- The W3C traceparent of the job's creation context, stored at enqueue when OpenTelemetry tracing is on there;
-- each attempt's span is its child. NULL when tracing was off (a nullable column without a default: no rewrite).
ALTER TABLE $schema.jobs ADD COLUMN traceparent text;
`;
