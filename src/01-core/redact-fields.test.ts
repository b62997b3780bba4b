import assert from "node:assert/strict";
import { it } from "node:test";
import { REDACTED, redactFields } from "./redact-fields.js";

it("hides named fields at any depth, whatever their case, and leaves the rest", () => {
  const fields = new Set(["password", "token"]);
  const args = { user: "ada", Password: "s3cret", nested: [{ token: "t", keep: 1 }], n: null };
  assert.deepEqual(redactFields(args, fields), {
    user: "ada",
    Password: REDACTED,
    nested: [{ token: REDACTED, keep: 1 }],
    n: null,
  });
  assert.equal(args.Password, "s3cret", "the original is untouched");
  assert.equal(redactFields("password", fields), "password");
  assert.deepEqual(redactFields(args, new Set()), args);
});
