// The signup demo with hostile input: a name cannot add a recipient or break the mail, and an oversized form gets
// a signup page saying so, not the upload route's error.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../helpers/tmp.js";

const dataDir = tempDir("errand-signup-hostile-");
Object.assign(process.env, {
  SIGNUP_DATA_DIR: dataDir,
  SIGNUP_PORT: "0",
  SIGNUP_SMTP_PORT: "0",
  SIGNUP_SMTP_DELAY_MS: "0",
  SIGNUP_EMAIL_ATTEMPTS: "2",
  SIGNUP_EMAIL_BACKOFF: "100ms",
});
const { startDemo } = await import("../../examples/signup/demo.js");
const { errand } = await import("../../examples/signup/tasks.js");
type Demo = Awaited<ReturnType<typeof startDemo>>;

let demo: Demo;
before(async () => {
  demo = await startDemo();
});
after(async () => {
  await demo?.stop();
});

function post(route: string, body: string) {
  return fetch(`${demo.url}/signup/${route}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
}

const userId = (email: string) =>
  (demo.users.db.prepare("SELECT id FROM users WHERE email = ?").get(email) as { id: number } | undefined)?.id;

describe("signup demo, hostile input", () => {
  const names = [
    ["a name that lists another address", "Mallory <mallory@evil.example>,", "victim1@example.com"],
    ["a name with angle brackets", "Eve <not an address>", "victim2@example.com"],
    ["a name with quotes, commas and a backslash", 'O"Brien, Pat \\ "the; boss"', "victim3@example.com"],
    ["a name in another script", "Zoë Ωmega 山田", "victim4@example.com"],
  ] as const;
  for (const route of ["errand", "blocking"] as const) {
    for (const [what, name, address] of names) {
      it(`${route}: ${what} reaches exactly one recipient, with the name kept`, async () => {
        const email = address.replace("@", `+${route}@`);
        const res = await post(route, new URLSearchParams({ name, email }).toString());
        assert.equal(res.status, 200, await res.text());
        const mail = await demo.mail.waitFor(userId(email)!, 15_000);
        assert.deepEqual(mail.recipients, [email]);
        // The To header carries the name as one display name, quoted or encoded: decode it and compare.
        assert.equal(displayName(mail.to), name, mail.to);
        assert.ok(mail.to.endsWith(`<${email}>`), mail.to);
        const jobs = await errand.listJobs({ task: "send-welcome-email", limit: 100 });
        assert.ok(
          jobs.every((j) => j.state !== "failed"),
          "no welcome email failed",
        );
      });
    }
  }

  it("a form body over 10 KB gets the signup page with its own message, not the upload's", async () => {
    const res = await post(
      "errand",
      new URLSearchParams({ name: "x".repeat(20_000), email: "big@example.com" }).toString(),
    );
    const body = await res.text();
    assert.equal(res.status, 413);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    assert.match(body, /The form sent is larger than 10 KB/);
    assert.doesNotMatch(body, /MiB|file/);
    assert.equal(userId("big@example.com"), undefined);
    const blocking = await post("blocking", `name=${"y".repeat(20_000)}&email=big2@example.com`);
    assert.equal(blocking.status, 413);
    assert.match(await blocking.text(), /larger than 10 KB/);
  });
});

/** The display name of an RFC 5322 `name <address>` header value: RFC 2047 words decoded, quotes undone. */
function displayName(header: string): string {
  let name = header.slice(0, header.lastIndexOf("<")).trim();
  name = name.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, enc: string, text: string) =>
    enc.toLowerCase() === "b"
      ? Buffer.from(text, "base64").toString("utf8")
      : Buffer.from(
          text.replace(/_/g, " ").replace(/=([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
          "latin1",
        ).toString("utf8"),
  );
  if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1).replace(/\\(.)/g, "$1");
  return name;
}
