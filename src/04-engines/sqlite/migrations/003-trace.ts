// Released migrations are never edited: a change goes in a new numbered file.
export default /* sql */ `
-- The W3C traceparent of the job's creation context, stored at enqueue when OpenTelemetry tracing is on there;
-- each attempt's span is its child. NULL when tracing was off.
ALTER TABLE errand_jobs ADD COLUMN traceparent TEXT;
`;
