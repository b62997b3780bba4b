// The OpenAPI 3.1 document of the JSON API (api.ts), served at <base>/api/openapi.json.
import { JOB_STATES } from "../01-core/job.js";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ "application/json": { schema } });
const error = (description: string) => ({ description, content: json(ref("Error")) });
const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "The job's id (digits).",
  schema: { type: "string", pattern: "^[0-9]{1,18}$" },
};
const time = { type: "string", format: "date-time" };
const bulkPath = (verb: string, summary: string) => ({
  post: {
    operationId: `${verb}Jobs`,
    summary,
    description:
      "In atomic batches, over the jobs stored when it starts, each changed as the single-job action changes it. " +
      "An empty filter is refused unless `all` is true; `dryRun` counts and changes nothing.",
    requestBody: { required: true, content: json(ref("BulkFilter")) },
    responses: {
      "200": { description: "How many jobs changed (would change, with dryRun)", content: json(ref("BulkResult")) },
      "400": error("Bad JSON, an unknown field, a bad value, a state the action does not take, or an empty filter"),
      "403": error("A cross-site request, or a cookie-authenticated one without X-CSRF-Token"),
      "415": error("Not sent as application/json"),
    },
  },
});
const names = { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" }, minItems: 1 }] };
const nullable = (schema: object) => ({ oneOf: [schema, { type: "null" }] });

export function openApiDocument(serverUrl: string): object {
  return {
    openapi: "3.1.0",
    info: {
      title: "errand",
      version: "1",
      description:
        "Enqueue, read, list, cancel and retry errand's jobs, one or every one a filter selects. Behind the " +
        "dashboard's authentication; a POST without " +
        "a bearer token must be sent as application/json, and with the dashboard's cookie also with X-CSRF-Token.",
    },
    servers: [{ url: serverUrl || "/" }],
    security: [{ bearer: [] }, { basic: [] }, { cookie: [] }, {}],
    paths: {
      "/jobs": {
        post: {
          operationId: "enqueueJob",
          summary: "Enqueue a job of a task this process defines",
          requestBody: { required: true, content: json(ref("EnqueueRequest")) },
          responses: {
            "201": { description: "Stored: the job's record", content: json(ref("Job")) },
            "400": error("Bad JSON, args or options (the message names the field); nothing stored"),
            "403": error("A cross-site request, or a cookie-authenticated one without X-CSRF-Token"),
            "413": error("The body is over 4 MiB"),
            "415": error("Not sent as application/json"),
            "422": error("No task of that name is defined here"),
          },
        },
        get: {
          operationId: "listJobs",
          summary: "Jobs, newest first",
          parameters: [
            { name: "state", in: "query", schema: { type: "string", enum: [...JOB_STATES] } },
            { name: "task", in: "query", schema: { type: "string" } },
            { name: "queue", in: "query", schema: { type: "string" } },
            {
              name: "before",
              in: "query",
              description: "A job id: the page of jobs older than it (the `next` of the page before).",
              schema: { type: "string", pattern: "^[0-9]{1,18}$" },
            },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
          ],
          responses: {
            "200": {
              description: "A page of jobs",
              content: json({
                type: "object",
                required: ["jobs", "next"],
                properties: {
                  jobs: { type: "array", items: ref("Job") },
                  next: { ...nullable({ type: "string" }), description: "Pass as `before` for the next page." },
                },
              }),
            },
            "400": error("An unknown parameter or a bad value"),
          },
        },
      },
      "/jobs/cancel": bulkPath("cancel", "Cancel every scheduled, ready or running job the filter selects"),
      "/jobs/retry": bulkPath("retry", "Retry every failed or cancelled job the filter selects"),
      "/jobs/delete": bulkPath(
        "delete",
        "Delete every finished job the filter selects (scheduled and ready ones too when `state` names them; never running ones)",
      ),
      "/jobs/{id}": {
        get: {
          operationId: "getJob",
          summary: "One job's record",
          parameters: [idParam],
          responses: { "200": { description: "The job", content: json(ref("Job")) }, "404": error("No such job") },
        },
      },
      "/jobs/{id}/cancel": {
        post: {
          operationId: "cancelJob",
          summary: "Cancel a job that has not ended (a running one is aborted at its worker's next heartbeat)",
          parameters: [idParam],
          responses: {
            "200": { description: "The job after", content: json(ref("Job")) },
            "404": error("No such job"),
            "409": error("The job has already ended"),
          },
        },
      },
      "/jobs/{id}/retry": {
        post: {
          operationId: "retryJob",
          summary: "Put a failed or cancelled job back to ready, with one more attempt",
          parameters: [idParam],
          responses: {
            "200": { description: "The job after", content: json(ref("Job")) },
            "404": error("No such job"),
            "409": error("The job is neither failed nor cancelled"),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "The dashboard's token." },
        basic: { type: "http", scheme: "basic" },
        cookie: { type: "apiKey", in: "cookie", name: "errand_dashboard" },
      },
      schemas: {
        EnqueueRequest: {
          type: "object",
          required: ["task"],
          additionalProperties: false,
          properties: {
            task: { type: "string" },
            args: { description: "The task's args, checked by its schema if it has one." },
            options: {
              type: "object",
              description: "As task.enqueue()'s options; times as ISO-8601 text or Unix milliseconds.",
              properties: {
                queue: { type: "string" },
                priority: { type: "integer" },
                runAt: { oneOf: [time, { type: "integer" }] },
                delay: { oneOf: [{ type: "string" }, { type: "integer" }], examples: ["30s", 5000] },
                maxAttempts: { type: "integer", minimum: 1 },
                key: { type: "string" },
                keyMode: {
                  oneOf: [
                    { type: "string", enum: ["pending", "forever"] },
                    { type: "object", properties: { for: { type: ["string", "integer"] } } },
                  ],
                },
                debounce: {},
                expiresIn: { oneOf: [{ type: "string" }, { type: "integer" }] },
                expiresAt: { oneOf: [time, { type: "integer" }] },
              },
            },
          },
        },
        BulkFilter: {
          type: "object",
          additionalProperties: false,
          description: "Every field given is a condition a job must meet.",
          properties: {
            task: names,
            queue: names,
            state: {
              oneOf: [
                { type: "string", enum: [...JOB_STATES] },
                { type: "array", items: { type: "string", enum: [...JOB_STATES] }, minItems: 1 },
              ],
              description:
                "Among those the action takes: cancel scheduled, ready, running (all by default); retry failed, " +
                "cancelled (both by default); delete scheduled, ready, succeeded, failed, cancelled (by default the last three).",
            },
            keyPrefix: { type: "string", minLength: 1, description: "Jobs whose key starts with this text." },
            createdBefore: { oneOf: [time, { type: "integer" }], description: "Enqueued before (exclusive)." },
            createdAfter: { oneOf: [time, { type: "integer" }], description: "Enqueued after (exclusive)." },
            flow: { type: "string", pattern: "^[0-9]{1,18}$", description: "Members of this flow." },
            all: { type: "boolean", description: "Say so to act with no other condition." },
            dryRun: { type: "boolean", description: "Count, change nothing." },
            batchSize: { type: "integer", minimum: 1, maximum: 100000, description: "Jobs per batch, fixed." },
          },
        },
        BulkResult: {
          type: "object",
          required: ["action", "count", "dryRun"],
          properties: {
            action: { type: "string", enum: ["cancel", "retry", "delete"] },
            count: { type: "integer", minimum: 0 },
            dryRun: { type: "boolean" },
          },
        },
        Job: {
          type: "object",
          required: ["id", "task", "queue", "state", "attempt", "maxAttempts", "runAt", "createdAt", "errors"],
          properties: {
            id: { type: "string" },
            task: { type: "string" },
            queue: { type: "string" },
            state: { type: "string", enum: [...JOB_STATES] },
            args: { description: "With the fields named in the Errand's `redact` option hidden." },
            priority: { type: "integer" },
            attempt: { type: "integer" },
            maxAttempts: { type: "integer" },
            key: nullable({ type: "string" }),
            runAt: time,
            createdAt: time,
            startedAt: nullable(time),
            finishedAt: nullable(time),
            expiresAt: nullable(time),
            result: {},
            progress: {},
            errors: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  attempt: { type: "integer" },
                  name: { type: "string" },
                  message: { type: "string" },
                  at: time,
                },
              },
            },
          },
        },
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: {
                  type: "string",
                  description:
                    "An ErrandError's code (ERRAND_INVALID_ARGS, ERRAND_JOB_NOT_FOUND), or the API's own: " +
                    "unknown_task, job_not_found, job_ended, not_retryable, invalid_json, payload_too_large, " +
                    "unsupported_media_type, forbidden, unauthorized, method_not_allowed, not_found, internal.",
                },
                message: { type: "string" },
              },
            },
          },
        },
      },
    },
  };
}
