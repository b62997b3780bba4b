// A real SMTP server on loopback standing in for the mail provider: it takes `delayMs` to accept each mail, as
// providers do, and keeps what it accepted (in memory and in a JSON-lines file) for the "received emails" page.
import { appendFileSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  to: string;
  /** The envelope's recipients (RCPT TO): where the server was asked to deliver it. */
  recipients: string[];
  subject: string;
  /** From the X-Signup-User header the app sets, to match a mail with its signup. */
  userId: number | null;
  receivedAt: number;
  bytes: number;
}

export interface MailServer {
  readonly port: number;
  readonly received: ReceivedMail[];
  /** While true, every mail is refused with a temporary error (451), like a provider having trouble. */
  rejecting: boolean;
  /** Resolves once a mail to `userId` has arrived. */
  waitFor(userId: number, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

function header(head: string, name: string): string {
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, "im").exec(head);
  return match ? match[1]!.replace(/\r?\n[ \t]+/g, " ").trim() : "";
}

export async function startMailServer(options: {
  port: number;
  delayMs: number;
  logFile: string;
}): Promise<MailServer> {
  const received: ReceivedMail[] = [];
  try {
    for (const line of readFileSync(options.logFile, "utf8").split("\n"))
      if (line) received.push(JSON.parse(line) as ReceivedMail);
  } catch {
    // first start
  }
  const waiters = new Set<{ userId: number; resolve: (mail: ReceivedMail) => void }>();
  const state = { rejecting: false };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    banner: "errand demo mail server",
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        setTimeout(() => {
          if (state.rejecting) {
            callback(
              Object.assign(new Error("4.3.0 Mailbox temporarily unavailable, try again later"), { responseCode: 451 }),
            );
            return;
          }
          const raw = Buffer.concat(chunks).toString("utf8");
          const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? "";
          const user = Number(header(head, "X-Signup-User"));
          const mail: ReceivedMail = {
            to: header(head, "To"),
            recipients: session.envelope.rcptTo.map((r) => r.address),
            subject: header(head, "Subject"),
            userId: Number.isInteger(user) && user > 0 ? user : null,
            receivedAt: Date.now(),
            bytes: raw.length,
          };
          received.push(mail);
          appendFileSync(options.logFile, JSON.stringify(mail) + "\n");
          for (const w of waiters) {
            if (w.userId === mail.userId) {
              waiters.delete(w);
              w.resolve(mail);
            }
          }
          callback();
        }, options.delayMs);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => console.error(`mail server: ${error.message}`));
  const port = (server.server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;

  return {
    port,
    received,
    get rejecting() {
      return state.rejecting;
    },
    set rejecting(value: boolean) {
      state.rejecting = value;
    },
    waitFor(userId, timeoutMs = 30_000) {
      const done = received.find((m) => m.userId === userId);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const waiter = { userId, resolve: (mail: ReceivedMail) => (clearTimeout(timer), resolve(mail)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no mail for user ${userId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    // Once: closing a closed server would wait for a "close" event that never comes.
    close: () => (closed ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
