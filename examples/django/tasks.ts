// The worker side of the Django example: `npx errand worker examples/django/tasks.ts`, on the same PostgreSQL.
// ERRAND_EXAMPLE_RECORD (optional): a file each sent email is appended to, as "<job id> <JSON args>".
import { appendFileSync } from "node:fs";
import { Errand } from "errand";

// Its database: ERRAND_DATABASE_URL, or DATABASE_URL (postgres://), as Django's.
export const errand = new Errand();

errand.task(
  "send-welcome-email",
  async (args: { userId: number; email: string }, ctx) => {
    // A real app sends the email here.
    ctx.log.info(`welcome email to ${args.email}`);
    if (process.env.ERRAND_EXAMPLE_RECORD)
      appendFileSync(process.env.ERRAND_EXAMPLE_RECORD, `${ctx.id} ${JSON.stringify(args)}\n`);
  },
  { queue: "mail", maxAttempts: 5 },
);

export default errand;
