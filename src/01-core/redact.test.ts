import assert from "node:assert/strict";
import { test } from "node:test";
import { redact, redactError, rememberPassword } from "./redact.js";

test("redact hides every form of password a connection string can carry", () => {
  const cases: [string, string][] = [
    ["postgres://u:p@ss@h:5432/db", "postgres://u:***@h:5432/db"],
    [
      "postgres://u:s3cr:et@h/db?sslmode=require&password=zz&sslpassword=yy",
      "postgres://u:***@h/db?sslmode=require&password=***&sslpassword=***",
    ],
    ["postgresql://u:%40x@h", "postgresql://u:***@h"],
    [
      "Cannot open postgres://a:b@h1/db or postgres://c:d@h2/db.",
      "Cannot open postgres://a:***@h1/db or postgres://c:***@h2/db.",
    ],
    ['{"database":"postgres://u:pw@h"}', '{"database":"postgres://u:***@h"}'],
    ["host=x password=secret dbname=y", "host=x password=*** dbname=y"],
    ["postgres://u:ab/c?d#e@h/db", "postgres://u:***@h/db"],
  ];
  for (const [text, shown] of cases) assert.equal(redact(text), shown, text);
});

test("redact leaves text without a password as it is", () => {
  for (const text of [
    "postgres://u@host:5432/db",
    "postgres://host:5432/db",
    "sqlite:./errand.db",
    "a passage",
    "mail a@b.example",
    "http://127.0.0.1:4000/jobs?x=1",
  ]) {
    assert.equal(redact(text), text);
  }
});

test("redactError reaches causes, aggregated errors and a URL error's input", () => {
  const inner = Object.assign(new TypeError("Invalid URL"), { input: "postgres://u:pw@h/x y" });
  const error = new Error("open postgres://u:pw@h/db failed", {
    cause: new AggregateError([inner], "postgres://u:pw@h"),
  });
  redactError(error);
  const all = `${error.message}${error.stack}${String((error.cause as AggregateError).message)}${(error.cause as AggregateError).stack}${inner.input}`;
  assert.ok(!all.includes(":pw@"), all);
});

test("a remembered password is hidden wherever it appears, even with a space the patterns cannot follow", () => {
  rememberPassword("postgres://app:my%20long secret@db.internal/app?sslpassword=key pass 9");
  assert.equal(redact("postgres://app:my long secret@db.internal/app"), "postgres://app:***@db.internal/app");
  assert.equal(redact("auth failed with my long secret"), "auth failed with ***");
  assert.equal(redact("key key pass 9 refused"), "key *** refused");
  // Plain passwords are left to the patterns: remembering "postgres" would hide the user and the scheme too.
  rememberPassword("postgres://postgres:postgres@h/db");
  assert.equal(redact("postgres://postgres:postgres@h/db"), "postgres://postgres:***@h/db");
  assert.equal(redact("user postgres"), "user postgres");
});
